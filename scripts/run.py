"""The main job, from pose files to the report, continued where it stopped when run again:

    python scripts/run.py SOURCE RUN_DIR [--config JOB.json] [--fps 30] [--test_videos V ...]

(``behavior-tokens run`` alike; the stages and the job file: behavior_tokens/job.py.)
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("run")
