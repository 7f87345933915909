"""Data sets: synthetic problems on the unit sphere and two-class CIFAR-10."""

from .cifar import DataStatus, find_cifar10, load_cifar10, read_cifar10, resolve_data_dir
from .synthetic import Dataset, TeacherNetwork, random_teacher, sphere_inputs, synthetic_dataset

__all__ = [
    "Dataset", "TeacherNetwork", "random_teacher", "sphere_inputs", "synthetic_dataset",
    "DataStatus", "find_cifar10", "load_cifar10", "read_cifar10", "resolve_data_dir",
]
