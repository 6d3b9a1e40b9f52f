"""A train-charlm run on disk: its output folder, its checkpoint and resuming from it.

A checkpoint (``charlm.npz``, written atomically by ``tg.save``, no pickle) holds everything a
run needs to continue exactly as if it had never stopped: the settings, vocabulary, model and
Adam state (moments and step count), the step counter (the position in the text follows from
it; the learning rate is constant), the recurrent state carried into the next chunk, the
device's random-generator state (as JSON text), the history and samples so far, and a SHA-256
of the text, so that a run is never resumed on another text.
"""
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..backend import get_device
from ..serialization import CheckpointError, load

CHECKPOINT_KIND = "tinygrad_rnn.charlm"
CHECKPOINT_NAME = "charlm.npz"
# Settings a resumed run may change: they decide how long to train and what to print, not the
# numbers computed.
RESUME_MAY_CHANGE = ("steps", "time_budget", "checkpoint_every", "sample_every", "sample_length",
                     "sample_temperature", "valid_chars", "text")
_RESUME_NEEDS = ("config", "model", "optimizer", "steps", "train_bpc", "samples", "carried", "rng", "text_sha256")


class CharLMError(ValueError):
    """A problem with what was asked for (the text, a setting, the output folder, the run to
    resume), not with the code; the command line reports it in one line."""


@dataclass
class RunState:
    """What a run has done so far, besides the model and the optimizer."""

    step: int = 0
    history: list = field(default_factory=list)  # training bits/char per step
    samples: list = field(default_factory=list)  # (step, text)
    carried: object = None  # the detached recurrent state carried into the next chunk


def checkpoint_state(model, optimizer, vocab, config, run, text_sha256, finished, valid_bpc=None):
    """The nested state that ``tg.save`` writes as the checkpoint."""
    carried = (run.carried,) if run.carried is not None and not isinstance(run.carried, tuple) else run.carried
    return {"kind": CHECKPOINT_KIND, "config": asdict(config), "vocab": vocab.state_dict(),
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "steps": run.step, "finished": finished, "train_bpc": np.array(run.history, dtype=np.float64),
            "valid_bpc": valid_bpc, "samples": [[step, text] for step, text in run.samples],
            "carried": None if carried is None else list(carried),
            "rng": json.dumps(get_device(config.device).get_rng_state()), "text_sha256": text_sha256}


def checkpoint_file(run):
    """The checkpoint of ``run``: a run folder (its charlm.npz) or the checkpoint file itself."""
    run = Path(run)
    return run / CHECKPOINT_NAME if run.is_dir() else run


def read_checkpoint(path, device="cpu", needs=("config", "vocab", "model")):
    """A checkpoint written by train-charlm holding the entries ``needs``; CheckpointError otherwise."""
    checkpoint = load(path, device)
    if not isinstance(checkpoint, dict) or checkpoint.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"charlm: {path} is a tinygrad_rnn checkpoint but not a char-LM one "
                              f"(kind {checkpoint.get('kind') if isinstance(checkpoint, dict) else None!r})")
    missing = [key for key in needs if key not in checkpoint]
    if missing:
        raise CheckpointError(f"charlm: {path} lacks {missing}" + (
            " (it was written by a train-charlm that could not resume)" if "rng" in missing else ""))
    return checkpoint


def saved_config(run):
    """The settings (a dict) of the run in ``run`` (a folder or its checkpoint)."""
    return read_checkpoint(checkpoint_file(run), needs=_RESUME_NEEDS)["config"]


def resumable(resume, config, text_sha256):
    """(path, checkpoint) of the run to resume, after checking that ``config`` and the text are
    the ones it was trained with and that it has steps left to do."""
    path = checkpoint_file(resume)
    checkpoint = read_checkpoint(path, config.device, _RESUME_NEEDS)
    saved, given = checkpoint["config"], asdict(config)
    for name in sorted(set(saved) - set(RESUME_MAY_CHANGE)):
        if saved[name] != given.get(name):
            raise CharLMError(f"train-charlm: cannot resume {path} with {_flag(name)} {given.get(name)}: the "
                              f"run was trained with {saved[name]} (a resumed run may only change "
                              f"{', '.join(map(_flag, RESUME_MAY_CHANGE))})")
    if checkpoint["text_sha256"] != text_sha256:
        raise CharLMError(f"train-charlm: cannot resume {path}: the text is not the one the run was trained on")
    if checkpoint["steps"] >= config.steps:
        raise CharLMError(f"train-charlm: {path} has done {checkpoint['steps']} of {config.steps} steps "
                          f"already; give --steps above {checkpoint['steps']} to train further")
    return path, checkpoint


def _flag(setting):
    return "--" + setting.replace("_", "-")


def restore(checkpoint, model, optimizer, config, log):
    """Load a checkpoint's model, optimizer and generator state; returns its ``RunState``."""
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    rng = json.loads(checkpoint["rng"])
    if rng is not None:
        get_device(config.device).set_rng_state(rng)
    elif config.dropout > 0 and config.layers > 1:
        log("train-charlm: warning: the run's random generator state was not saved (CuPy cannot export "
            "it), so the dropout masks from here on differ from an uninterrupted run's")
    carried = checkpoint["carried"]
    return RunState(step=checkpoint["steps"], history=[float(b) for b in checkpoint["train_bpc"]],
                    samples=[(step, text) for step, text in checkpoint["samples"]],
                    carried=None if carried is None else tuple(carried) if len(carried) > 1 else carried[0])


def prepare_out_dir(out_dir, resumed_from, overwrite):
    """Create ``out_dir`` and check that files can be written there, before any training; refuse
    a folder that holds another run unless ``overwrite``."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as error:
        raise CharLMError(f"train-charlm: cannot write the output folder {out_dir} "
                          f"({error.strerror or error})") from None
    existing = out_dir / CHECKPOINT_NAME
    same_run = resumed_from is not None and existing.exists() and existing.samefile(resumed_from)
    if existing.exists() and not overwrite and not same_run:
        raise CharLMError(f"train-charlm: {out_dir} already holds a run ({existing.name}); continue it "
                          f"with --resume {out_dir} or replace it with --overwrite")
    return out_dir
