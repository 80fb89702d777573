"""Packs the fixture tree into one .tar.gz per family plus MANIFEST.json (the device machine
returns at most 8 files of at most 16 MiB), and unpacks them again after checking every hash.
Archives are byte-reproducible: sorted entries, zero times and owners, no gzip timestamp."""
import gzip
import hashlib
import io
import json
import os
import tarfile

MAX_FILES = 8
MAX_FILE_BYTES = 16 * 1024 * 1024
MANIFEST = "MANIFEST.json"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _files_under(root, top):
    """Paths relative to root of every regular file under root/top, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
        dirnames.sort()
        for name in sorted(filenames):
            found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(found)


def _tar_gz(root, paths):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in paths:
            with open(os.path.join(root, rel), "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(rel.replace(os.sep, "/"))
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def pack(tree, tops, out_dir, max_file_bytes=MAX_FILE_BYTES):
    """One archive <top>.tar.gz for each folder tree/<top>, and MANIFEST.json; returns the manifest."""
    if len(tops) + 1 > MAX_FILES:
        raise ValueError(f"{len(tops)} archives and a manifest are more than {MAX_FILES} files")
    os.makedirs(out_dir, exist_ok=True)
    manifest = {"archives": {}}
    for top in sorted(tops):
        paths = _files_under(tree, top)
        if not paths:
            raise ValueError(f"{os.path.join(tree, top)} holds no files")
        data = _tar_gz(tree, paths)
        name = f"{top}.tar.gz"
        if len(data) > max_file_bytes:
            raise ValueError(f"{name} is {len(data)} bytes, over the {max_file_bytes} a returned file may have")
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        files = {}
        for rel in paths:
            with open(os.path.join(tree, rel), "rb") as f:
                files[rel.replace(os.sep, "/")] = _sha256(f.read())
        manifest["archives"][name] = {"bytes": len(data), "sha256": _sha256(data), "files": files}
    with open(os.path.join(out_dir, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    return manifest


def _safe_member(name):
    parts = name.split("/")
    return not name.startswith("/") and ".." not in parts and "" not in parts and "\\" not in name


def unpack(packed_dir, into):
    """Checks MANIFEST.json's hashes and writes every archive's files under `into`; returns the paths."""
    with open(os.path.join(packed_dir, MANIFEST), encoding="utf-8") as f:
        manifest = json.load(f)
    written = []
    for name, entry in sorted(manifest["archives"].items()):
        with open(os.path.join(packed_dir, name), "rb") as f:
            data = f.read()
        if _sha256(data) != entry["sha256"]:
            raise ValueError(f"{name}: SHA-256 differs from {MANIFEST}")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
            names = sorted(m.name for m in members)
            if names != sorted(entry["files"]):
                raise ValueError(f"{name}: its files are not the ones {MANIFEST} lists")
            for m in members:
                if not m.isfile() or not _safe_member(m.name):
                    raise ValueError(f"{name}: refusing member {m.name!r}")
                content = tar.extractfile(m).read()
                if _sha256(content) != entry["files"][m.name]:
                    raise ValueError(f"{name}: {m.name} differs from {MANIFEST}")
                target = os.path.join(into, *m.name.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as out:
                    out.write(content)
                written.append(target)
    return written
