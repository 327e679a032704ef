"""Peer for `disttrainer train --model rbm`: scikit-learn's BernoulliRBM on the same digits split.

Same work as the issue's reference: min-max scaling fitted on the training split, BernoulliRBM(100 components,
learning rate 0.06, 20 iterations, batch 10), then logistic regression (C=6000) on the hidden-unit probabilities.
The split is DistTrainer's fixed one (a row is test when its class counter, before the row is counted, is 4 mod 5).
Prints `RESULT sklearn-rbm fit S s test_accuracy A pseudo_log_likelihood P`; only the RBM fit is timed.
    usage: /usr/bin/python3 rbm_sklearn.py [DIGITS_CSV] [SEED]   (Debian: apt-get install -y python3-sklearn)
"""
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import BernoulliRBM
from sklearn.preprocessing import MinMaxScaler

path = sys.argv[1] if len(sys.argv) > 1 else "../../src/DistTrainer.Numerics/Data/digits.csv"
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
x, y = data[:, :-1], data[:, -1].astype(int)
counts = np.zeros(y.max() + 1, dtype=int)
is_test = np.zeros(len(y), dtype=bool)
for i, label in enumerate(y):
    is_test[i] = counts[label] % 5 == 4
    counts[label] += 1
scaler = MinMaxScaler().fit(x[~is_test])
x_train, x_test = scaler.transform(x[~is_test]), np.clip(scaler.transform(x[is_test]), 0, 1)
y_train, y_test = y[~is_test], y[is_test]

rbm = BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=20, batch_size=10, random_state=seed)
start = time.perf_counter()
rbm.fit(x_train)
fit = time.perf_counter() - start

classifier = LogisticRegression(C=6000, max_iter=2000).fit(rbm.transform(x_train), y_train)
accuracy = classifier.score(rbm.transform(x_test), y_test)
pll = rbm.score_samples(x_test).mean()
print(f"RESULT sklearn-rbm fit {fit:.4f} s test_accuracy {accuracy:.4f} pseudo_log_likelihood {pll:.2f} "
      f"train {len(y_train)} test {len(y_test)}")
