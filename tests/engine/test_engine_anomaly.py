"""detect_anomaly: the first op producing NaN/Inf raises, naming the op, shapes and pass."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import grad_mode
from tinygrad_rnn.anomaly import AnomalyError, detect_anomaly

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN/Inf are the point here


def test_forward_nan_names_the_op_and_input_shapes(device):
    x = tg.Tensor([[1.0, -1.0, 2.0]], requires_grad=True, device=device)
    with detect_anomaly():
        y = x * 2  # finite: passes
        with pytest.raises(AnomalyError, match=r"forward of Log \(input shapes \[\(1, 3\)\]\) produced NaN"):
            y.log()


def test_backward_inf_is_reported_as_the_backward_of_its_op(device):
    """d√x/dx = 1/(2√x) is infinite at 0: the Div inside Sqrt's backward is Sqrt's fault."""
    x = tg.Tensor([4.0, 0.0], requires_grad=True, device=device)
    with detect_anomaly():
        y = (x.sqrt() * 3).sum()
        with pytest.raises(AnomalyError, match=r"backward of Sqrt \(input shapes \[\(2,\)\]\).*gradient of input 0"):
            y.backward()


def test_off_outside_the_block_even_after_an_error():
    with pytest.raises(AnomalyError):
        with detect_anomaly():
            tg.tensor([0.0]).log()
    assert grad_mode.state.anomaly is None
    with np.errstate(divide="ignore"):
        assert np.isneginf(tg.tensor([0.0]).log().numpy()).all()  # off: no check, no error


def test_finite_training_step_passes():
    w = tg.randn(3, 2, requires_grad=True)
    with detect_anomaly():
        loss = tg.functional.cross_entropy(tg.randn(4, 3) @ w, tg.Tensor([0, 1, 1, 0]))
        loss.backward()
    assert np.isfinite(w.grad.numpy()).all()
