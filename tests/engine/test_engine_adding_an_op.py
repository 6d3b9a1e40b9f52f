"""The README's "Adding an op" example runs as written (so it cannot rot)."""
import re
from pathlib import Path

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.testing import gradcheck

DOC = Path(__file__).parents[2] / "README.md"


def example_namespace():
    section = DOC.read_text().split("## Adding an op", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section should hold one complete python example"
    namespace = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    return namespace


def test_documented_example_passes_its_own_test():
    example_namespace()["test_silu_gradients"]()


def test_documented_op_values_and_devices(device):
    silu = example_namespace()["silu"]
    values = np.linspace(-5, 5, 11)
    x = tg.Tensor(values, requires_grad=True, device=device)
    np.testing.assert_allclose(silu(x).numpy(), values / (1 + np.exp(-values)), rtol=1e-12)
    assert gradcheck(silu, [x])
