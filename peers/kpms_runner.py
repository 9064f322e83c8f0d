"""One phase of a keypoint-MoSeq fit, run as a process of its own by peers.external (in an environment with
keypoint-moseq; it imports nothing of this project). Phases, each reading ``WORK/input.npz``:

    prepare          project, PCA (latent dimensions for 90 % of the variance), saved in WORK/project
    scan KAPPA N     N AR-HMM iterations at KAPPA; writes the median syllable duration (frames)
    arhmm KAPPA N    N AR-HMM iterations at KAPPA under the model name "fit" (checkpoints every 25)
    full KAPPA N     the full model from the last checkpoint of "fit" up to iteration N (resumable)
    apply IN OUT N   the last checkpoint applied (N iterations) to the recordings of IN: their syllables in OUT

The fitting phases also write the training recordings' syllables (WORK/train_syllables.npz), as the
fitted model holds them.

As its documentation fits: AR-HMM first, then the full model from its last state with a lower kappa.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

MODEL, TRAIN_UNITS = "fit", "train_syllables.npz"
# On a 2-core CPU machine the full model's fit wedged after a few iterations, every thread of the process waiting on
# a futex (jax 0.10.2; also with one Eigen thread and synchronous dispatch alone); pinned to one core it runs through.
# So each phase keeps to one core (the first it may use), one Eigen thread, synchronous dispatch: set before jax.
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
os.environ.setdefault("JAX_CPU_ENABLE_ASYNC_DISPATCH", "false")


def _inputs(path: Path):
    z = np.load(path, allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    keys = meta["keys"]
    coords = {k: z[f"coords/{k}"] for k in keys}
    conf = {k: z[f"conf/{k}"] for k in keys}
    return meta, coords, conf


def _config(work: Path):
    import keypoint_moseq as kpms
    return kpms.load_config(str(work / "project"))


def _data(work: Path, path: Path | None = None):
    import keypoint_moseq as kpms
    meta, coords, conf = _inputs(path or work / "input.npz")
    cfg = _config(work)
    data, metadata = kpms.format_data(coords, conf, **cfg)
    return cfg, data, metadata


def prepare(work: Path) -> dict:
    import keypoint_moseq as kpms
    meta, coords, conf = _inputs(work / "input.npz")
    project = work / "project"
    kpms.setup_project(str(project), overwrite=True, bodyparts=meta["bodyparts"], use_bodyparts=meta["bodyparts"],
                       skeleton=[], anterior_bodyparts=[meta["anterior"]], posterior_bodyparts=[meta["posterior"]],
                       fps=meta["fps"], video_dir="")
    cfg = kpms.load_config(str(project))
    data, _ = kpms.format_data(coords, conf, **cfg)
    pca = kpms.fit_pca(**data, **cfg)
    kpms.save_pca(pca, str(project))
    dims = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), 0.9) + 1)
    kpms.update_config(str(project), latent_dim=dims)
    return {"latent_dim": dims}


def _new_model(work: Path, kappa: float):
    import keypoint_moseq as kpms
    cfg, data, metadata = _data(work)
    pca = kpms.load_pca(str(work / "project"))
    model = kpms.init_model(data, pca=pca, **cfg)
    return kpms.update_hypparams(model, kappa=kappa), data, metadata


def _median_frames(syllables: dict) -> float:
    lengths = []
    for z in syllables.values():
        change = np.flatnonzero(np.diff(z) != 0)
        lengths.append(np.diff(np.concatenate([[-1], change, [len(z) - 1]])))
    return float(np.median(np.concatenate(lengths)))


def _syllables(model, metadata, save: Path | None = None) -> dict:
    import keypoint_moseq as kpms
    res = kpms.extract_results(model, metadata, save_results=False)
    out = {k: np.asarray(v["syllable"]) for k, v in res.items()}
    if save is not None:
        np.savez(save, **out)
    return out


def scan(work: Path, kappa: float, iters: int) -> dict:
    import keypoint_moseq as kpms
    model, data, metadata = _new_model(work, kappa)
    model = kpms.fit_model(model, data, metadata, str(work / "project"), f"scan-{kappa:g}", ar_only=True,
                           num_iters=iters, generate_progress_plots=False, save_every_n_iters=0)[0]
    return {"kappa": kappa, "median_frames": _median_frames(_syllables(model, metadata))}


def arhmm(work: Path, kappa: float, iters: int) -> dict:
    import keypoint_moseq as kpms
    model, data, metadata = _new_model(work, kappa)
    model = kpms.fit_model(model, data, metadata, str(work / "project"), MODEL, ar_only=True, num_iters=iters,
                           generate_progress_plots=False, save_every_n_iters=25)[0]
    return {"kappa": kappa, "median_frames": _median_frames(_syllables(model, metadata, work / TRAIN_UNITS))}


def full(work: Path, kappa: float, until: int) -> dict:
    import keypoint_moseq as kpms
    model, data, metadata, start = kpms.load_checkpoint(str(work / "project"), MODEL)
    model = kpms.update_hypparams(model, kappa=kappa)  # the same on a resumed fit: checkpoints hold it already
    if start < until:
        model = kpms.fit_model(model, data, metadata, str(work / "project"), MODEL, ar_only=False, start_iter=start,
                               num_iters=until, generate_progress_plots=False, save_every_n_iters=25)[0]
    return {"kappa": kappa, "from": int(start), "until": until,
            "median_frames": _median_frames(_syllables(model, metadata, work / TRAIN_UNITS))}


def apply(work: Path, source: Path, output: Path, iters: int) -> dict:
    import keypoint_moseq as kpms
    model, _, _, at = kpms.load_checkpoint(str(work / "project"), MODEL)
    cfg, data, metadata = _data(work, source)
    res = kpms.apply_model(model, data, metadata, str(work / "project"), MODEL, num_iters=iters, save_results=False,
                           **cfg)
    np.savez(output, **{k: np.asarray(v["syllable"]) for k, v in res.items()})
    return {"iteration": int(at), "apply_iters": iters}


def main(argv: list[str]) -> None:
    phase, work, *rest = argv
    work = Path(work)
    t = time.perf_counter()
    fn = {"prepare": prepare, "scan": scan, "arhmm": arhmm, "full": full, "apply": apply}[phase]
    if phase in ("scan", "arhmm", "full"):
        args = [float(rest[0]), int(rest[1])]
    else:
        args = [Path(rest[0]), Path(rest[1]), int(rest[2])] if phase == "apply" else []
    out = fn(work, *args)
    out["seconds"] = time.perf_counter() - t
    (work / f"{phase}.json").write_text(json.dumps(out))
    print("\n" + json.dumps(out), flush=True)  # on a line of its own: keypoint-moseq ends some warnings without one


if __name__ == "__main__":
    main(sys.argv[1:])
