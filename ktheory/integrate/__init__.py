"""Integrators of the knowledge-transfer loss: gradient descent, gradient flow, kernel-regime
predictions, checkpoints and the teacher/student set-ups. See :mod:`ktheory.integrate.gd` for the
loss and its conventions."""

from .flow import gradient_flow
from .gd import GDResult, ModelSpec, choose_form, gradient_descent, gradient_descent_many, stability_bound
from .kernel_regime import kernel_change, kernel_regime_comparison, linearised_prediction
from .setups import Student, Teacher, make_student, select_units, train_teacher

__all__ = [
    "GDResult", "ModelSpec", "choose_form", "gradient_descent", "gradient_descent_many", "stability_bound",
    "gradient_flow", "kernel_change", "kernel_regime_comparison", "linearised_prediction",
    "Student", "Teacher", "make_student", "select_units", "train_teacher",
]
