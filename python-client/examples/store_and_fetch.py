"""Store and fetch an image-sized array and an embedding matrix; print what NP.INFO says.

    make run                      # in another terminal: Redis with the module on :6379
    python python-client/examples/store_and_fetch.py [--port 6379]
"""

import argparse

import numpy as np
import redis

from redis_numpy import Numpy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        assert back.dtype == arr.dtype and np.array_equal(back, arr)
        print(f"{key}: {arr.shape} {arr.dtype} round-tripped")
        for field, value in arrays.info(key).items():
            print(f"    {field:<14} {value!r}")

    # Grow the embedding log and read a few rows back, server-side.
    arrays.append("example:embeddings", rng.standard_normal((2, 384)).astype(np.float32))
    print("rows after append:", arrays.shape("example:embeddings")[0])
    print("first row, cast to float16 on the server:", arrays.get("example:embeddings", as_dtype=np.float16)[0, :4])


if __name__ == "__main__":
    main()
