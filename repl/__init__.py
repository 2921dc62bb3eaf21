"""Command-line tools on top of the engine: seq2seq-train, -eval, -chat and -batch."""
