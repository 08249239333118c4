"""Store and fetch an image-sized array and an embedding matrix; print what NP.INFO says.

    make run                      # in another terminal: Redis with the module on :6379
    python python-client/examples/store_and_fetch.py [--port 6379]
"""

import argparse

import numpy as np
import redis

from redis_numpy import Numpy


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    args = parser.parse_args()

    arrays = Numpy(redis.Redis(host=args.host, port=args.port))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(1080, 1920, 3), dtype=np.uint8)
    embeddings = rng.standard_normal((10_000, 384)).astype(np.float32)

    for key, arr in (("example:image", image), ("example:embeddings", embeddings)):
        arrays.set(key, arr)
        back = arrays.get(key)
        assert back is not None and back.dtype == arr.dtype and np.array_equal(back, arr)
        print(f"{key}: {arr.shape} {arr.dtype} round-tripped")
        info = arrays.info(key)
        assert info is not None
        for field, value in info.items():
            print(f"    {field:<14} {value!r}")

    # Grow the embedding log and read a few rows back, server-side.
    arrays.append("example:embeddings", rng.standard_normal((2, 384)).astype(np.float32))
    print("shape after append:", arrays.shape("example:embeddings"))
    # Only the 4 values asked for cross the network: sliced and cast on the server.
    head = arrays.get("example:embeddings", slice=np.s_[0, :4], as_dtype=np.float16)
    print("first row's first values, as float16:", head)


if __name__ == "__main__":
    main()
