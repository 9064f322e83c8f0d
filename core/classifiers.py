"""The probes every table uses, defined once: balanced accuracy and the classifiers behind it.

- ``balanced_accuracy``: mean of the diagonal of the row-normalised confusion matrix;
- ``svm_classifier``: standardised RBF SVM with balanced class weights (the research's SVM on z_e / z_q);
- ``categorical_tree``: a decision tree on one-hot categorical columns (codewords, units), so each split
  is "column c == v" (the research's codeword tree);
- ``logistic_probe``: standardised logistic regression with balanced class weights.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of the diagonal of the row-normalised confusion matrix (classes present in y_true)."""
    labels = np.union1d(y_true, y_pred)  # a prediction of an absent class still counts as a miss
    cm = confusion_matrix(y_true, y_pred, labels=labels).astype(float)
    present = cm.sum(axis=1) > 0
    return float(np.mean(np.diag(cm)[present] / cm.sum(axis=1)[present]))


def svm_classifier(seed: int = 0):
    return make_pipeline(StandardScaler(), SVC(class_weight="balanced", random_state=seed))


def categorical_tree(seed: int = 0):
    return make_pipeline(OneHotEncoder(handle_unknown="ignore"),
                         DecisionTreeClassifier(class_weight="balanced", min_samples_leaf=3, random_state=seed))


def logistic_probe(seed: int = 0, max_iter: int = 2000):
    return make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=max_iter,
                                                              random_state=seed))
