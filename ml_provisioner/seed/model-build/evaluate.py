"""Evaluation step: the trained model's AUC on the held-out test split, as evaluation.json.

Runs in SageMaker's XGBoost container; the condition step reads the AUC from the report.
"""

import json
import os
import tarfile

import pandas as pd
import xgboost
from sklearn.metrics import roc_auc_score

with tarfile.open("/opt/ml/processing/model/model.tar.gz") as archive:
    archive.extractall(".")
model = xgboost.Booster()
model.load_model("xgboost-model")

test = pd.read_csv("/opt/ml/processing/test/test.csv", header=None)
predictions = model.predict(xgboost.DMatrix(test.iloc[:, 1:].values))
auc = float(roc_auc_score(test.iloc[:, 0], predictions))

os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
with open("/opt/ml/processing/evaluation/evaluation.json", "w") as report:
    json.dump({"binary_classification_metrics": {"auc": {"value": auc}}}, report)
print(f"test AUC {auc:.3f}")
