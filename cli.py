"""The `dangtopic` command. Subcommands are imported lazily so `predict` never loads training code."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, help). Each module exposes `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "predict": (
        "dangtopic.inference.predict",
        "tag and summarise articles (files, folders, globs, JSONL, CSV)",
    ),
    "report": ("dangtopic.inference.report", "render an HTML report from a predictions JSONL"),
    "benchmark": ("dangtopic.inference.benchmark", "measure tagging and pipeline speed on this machine"),
    "train-tagger": ("dangtopic.training.train_tagger", "fine-tune the sentence topic tagger"),
    "evaluate-tagger": ("dangtopic.training.evaluate_tagger", "evaluate the tagger against baselines"),
    "train-summarizer": ("dangtopic.training.train_summarizer", "train the extractive summariser"),
    "evaluate-summarizer": (
        "dangtopic.training.evaluate_summarizer",
        "ROUGE of the summariser and baselines",
    ),
    "prepare-encoder": ("dangtopic.models.prepare", "rebuild the offline e5-small encoder into the cache"),
}


DESCRIPTION = (
    "Topic tagging and extractive summaries of Vietnamese Party-building news, offline on CPU. "
    "Run `dangtopic COMMAND --help` for the options of a command."
)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to each option whose help does not state its default itself."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            not action.option_strings
            or "default" in text
            or action.default in (None, False, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="dangtopic", description=DESCRIPTION)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv:  # a usage error, like any other missing argument
        parser.print_help(sys.stderr)
        return 2
    if argv[0] in {"-h", "--help"}:
        parser.print_help()
        return 0
    if argv[0] == "--version":
        from dangtopic import __version__

        print(__version__)
        return 0
    name = argv[0]
    if name not in COMMANDS:
        parser.error(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
    module = importlib.import_module(COMMANDS[name][0])
    cmd_parser = argparse.ArgumentParser(
        prog=f"dangtopic {name}", description=COMMANDS[name][1], formatter_class=DefaultsHelpFormatter
    )
    module.add_arguments(cmd_parser)
    args = cmd_parser.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
