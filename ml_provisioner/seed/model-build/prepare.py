"""Processing step: a small synthetic {{use_case}} dataset, split into train, validation and test.

Runs in SageMaker's scikit-learn container. Replace it with your own data preparation: read from
/opt/ml/processing/input (a ProcessingInput you add) and write the same three outputs.
"""

import argparse
import os

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

OUTPUT = "/opt/ml/processing"

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, default=2000)
rows = parser.parse_args().rows

features, label = make_classification(n_samples=rows, n_features=8, n_informative=5, random_state=42)
# XGBoost's CSV format: the label first, no header.
data = pd.DataFrame(np.column_stack([label, features]))
train, validation, test = np.split(data.sample(frac=1, random_state=42), [int(0.7 * rows), int(0.85 * rows)])
for name, part in (("train", train), ("validation", validation), ("test", test)):
    os.makedirs(f"{OUTPUT}/{name}", exist_ok=True)
    part.to_csv(f"{OUTPUT}/{name}/{name}.csv", header=False, index=False)
print(f"wrote {len(train)} training, {len(validation)} validation and {len(test)} test rows")
