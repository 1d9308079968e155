"""The array types the package passes around (shapes are given where they are used)."""

import numpy as np
import numpy.typing as npt

Float32Array = npt.NDArray[np.float32]
"""audio samples"""
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
