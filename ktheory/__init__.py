"""ktheory: numerical verification of the theory of knowledge transfer in the kernel regime.

Stable entry points (names and meaning are kept across versions):
``gram_blocks``, ``block_matrix``, ``transfer_matrix``, ``poles``, ``final_value`` and
``gradient_descent``. Conventions: X is (n, d), W is (m, d), a has length m, c = a / sqrt(m),
Phi is (n, m); the loss carries halves so that gradient flow is exactly the paper's ODE.
"""

from .activations import ACTIVATIONS, Activation, activation_names, get_activation
from .errors import DataFileError, InvalidArgumentError, MemoryLimitError
from .model import forward, hidden_features, init_params, jacobian_columns, output_weights
from .ntk import expected_kernel, gram_blocks, network_kernel
from .spectral import block_matrix, block_operator, eigen_decomposition, poles, transfer_matrix
from .theory import final_value, unit_final_values
from .data import find_cifar10, load_cifar10, synthetic_dataset
from .integrate import gradient_descent, gradient_flow

__version__ = "0.1.0"


__all__ = [
    "ACTIVATIONS", "Activation", "activation_names", "get_activation",
    "DataFileError", "InvalidArgumentError", "MemoryLimitError",
    "forward", "hidden_features", "init_params", "jacobian_columns", "output_weights",
    "expected_kernel", "gram_blocks", "network_kernel",
    "block_matrix", "block_operator", "eigen_decomposition", "poles", "transfer_matrix",
    "final_value", "unit_final_values", "gradient_descent", "gradient_flow",
    "find_cifar10", "load_cifar10", "synthetic_dataset",
]
