"""Handwritten digits read row by row: scikit-learn's bundled 8×8 digits as sequences of 8 rows
of 8 pixels, classified by a 1-layer LSTM from its final hidden state.

    python examples/digits_rows.py [--epochs 30] [--quick]

The data (1797 images, shipped inside scikit-learn, no download) is split 75/25, stratified,
with a fixed seed; pixels are standardized with the training set's mean and deviation.

Measured here (H=128, batch 64, Adam lr 3e-3, 30 epochs = 660 steps, float32, fused path,
OPENBLAS_NUM_THREADS=1 on 2 shared CPU cores): test accuracy 98.2% (train 100%) in 6-10 s; with
split/init seeds 1 and 2: 98.9% and 97.8%. Without the standardization: 95-97%.
"""
import argparse
import time

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F, nn, optim


def digit_rows(seed=0):
    """(train_x, train_y, test_x, test_y): x (N, 8 rows, 8 pixels) float32, standardized with the
    training set's pixel mean and deviation (worth about 1.5 points of test accuracy here), y int64."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    train_x, test_x, train_y, test_y = train_test_split(digits.images, digits.target, test_size=0.25,
                                                        random_state=seed, stratify=digits.target)
    mean, deviation = train_x.mean(), train_x.std()
    train_x, test_x = (((images - mean) / deviation).astype(np.float32) for images in (train_x, test_x))
    return train_x, train_y.astype(np.int64), test_x, test_y.astype(np.int64)


class RowClassifier(nn.Module):
    def __init__(self, hidden_size=128, classes=10):
        super().__init__()
        self.lstm = nn.LSTM(8, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, classes)

    def forward(self, images):
        _, (h_n, _) = self.lstm(images)
        return self.readout(h_n[-1])


def accuracy(model, x, y):
    with tg.no_grad():
        predicted = model(tg.Tensor(x)).argmax(axis=1).numpy()
    return float((predicted == y).mean())


def train(epochs=30, hidden_size=128, batch=64, lr=3e-3, seed=0, log=True):
    """Returns (test accuracy, train accuracy, wall seconds, optimizer steps)."""
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_x, train_y, test_x, test_y = digit_rows(seed)
    model = RowClassifier(hidden_size)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    steps, start = 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(train_x))
        for first in range(0, len(order), batch):
            chosen = order[first:first + batch]
            loss = F.cross_entropy(model(tg.Tensor(train_x[chosen])), tg.Tensor(train_y[chosen]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
        if log and epoch % 5 == 0:
            print(f"  epoch {epoch}: loss {loss.item():.4f}, test accuracy {accuracy(model, test_x, test_y):.4f}",
                  flush=True)
    elapsed = time.perf_counter() - start
    return accuracy(model, test_x, test_y), accuracy(model, train_x, train_y), elapsed, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds) that checks the script works")
    args = parser.parse_args()
    if args.quick:
        args.epochs = 1
    test, train_accuracy, seconds, steps = train(args.epochs)
    print(f"test accuracy {test:.4f} (train {train_accuracy:.4f}) after {steps} steps, {seconds:.0f} s")


if __name__ == "__main__":
    main()
