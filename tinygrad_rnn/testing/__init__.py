"""Tools for testing ops: finite-difference gradient checks and hypothesis strategies."""
from .gradcheck import gradcheck, gradgradcheck, GradcheckError  # noqa: F401
