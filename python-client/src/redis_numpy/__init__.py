"""redis-numpy: NumPy arrays as a native Redis type.

    import numpy as np, redis
    from redis_numpy import Numpy

    arrays = Numpy(redis.Redis())
    arrays.set("embeddings", np.random.rand(1000, 384).astype(np.float32))
    arrays.get("embeddings", slice="10:20")
"""

from .chunked import ClusterMoveWarning, ConcurrentWrite, Upload, UploadAborted
from .chunked_async import AsyncUpload
from .client import AsyncNumpy, AsyncNumpyPipeline, Numpy, NumpyError, NumpyPipeline, SyncNumpy
from .commands import ArrayInfo, ArrayValues, NumpyCommands, format_index, format_slice
from .migrate import MigrationReport
from .npy import decode, encode
from .sharded import ShardedArray
from .view import ArrayView

__version__ = "0.2.0"

__all__ = [
    "ArrayInfo",
    "ArrayValues",
    "ArrayView",
    "AsyncNumpy",
    "AsyncNumpyPipeline",
    "AsyncUpload",
    "ClusterMoveWarning",
    "ConcurrentWrite",
    "MigrationReport",
    "Numpy",
    "NumpyCommands",
    "NumpyError",
    "NumpyPipeline",
    "ShardedArray",
    "SyncNumpy",
    "Upload",
    "UploadAborted",
    "decode",
    "encode",
    "format_index",
    "format_slice",
    "__version__",
]
