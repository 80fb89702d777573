"""The safetensors format written and read with numpy alone, so that reference files need no
`safetensors` package: an 8-byte little-endian header length, a compact JSON header padded with
spaces to a multiple of 8, then the raw little-endian tensor bytes."""
import json
import struct

import numpy as np

_DTYPES = {
    "BOOL": np.dtype("bool"), "U8": np.dtype("<u1"), "I8": np.dtype("<i1"), "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"), "I64": np.dtype("<i8"), "F16": np.dtype("<f2"), "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
# The order of the Rust crate's Dtype enum: it lays tensors out by dtype (last first), then by name.
# Following it makes a file byte-identical to one that safetensors.torch.save_file writes.
_RUST_DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32",
                     "F32", "F64", "I64", "U64"]


def _dtype_name(array):
    for name, dtype in _DTYPES.items():
        if array.dtype == dtype or array.dtype == dtype.newbyteorder("="):
            return name
    raise ValueError(f"safetensors: no dtype name for numpy dtype {array.dtype}")


def encode(tensors, metadata=None):
    """The bytes of a safetensors file holding `tensors` (name → numpy array) and `metadata`
    (str → str, kept in the order given)."""
    arrays = {name: np.asarray(a, order="C") for name, a in tensors.items()}  # keeps 0-d arrays 0-d
    names = sorted(arrays, key=lambda n: (-_RUST_DTYPE_ORDER.index(_dtype_name(arrays[n])), n))
    header, blobs, offset = {}, [], 0
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("safetensors: metadata keys and values must be strings")
        header["__metadata__"] = dict(metadata)
    for name in names:
        a = arrays[name]
        blob = a.astype(_DTYPES[_dtype_name(a)], copy=False).tobytes()
        header[name] = {"dtype": _dtype_name(a), "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write(path, tensors, metadata=None):
    with open(path, "wb") as f:
        f.write(encode(tensors, metadata))


def decode(data):
    """(tensors, metadata) from the bytes of a safetensors file; tensors are copies."""
    if len(data) < 8:
        raise ValueError("safetensors: shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"safetensors: header of {n} bytes runs past the end of the file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = _DTYPES[entry["dtype"]]
        count = int(np.prod(entry["shape"], dtype=np.int64))
        if not 0 <= begin <= end <= len(body) or end - begin != count * dtype.itemsize:
            raise ValueError(f"safetensors: tensor {name} has offsets {begin}..{end} that do not fit its shape")
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(tuple(entry["shape"])).copy()
    return tensors, metadata


def read(path):
    with open(path, "rb") as f:
        return decode(f.read())
