"""The chat's terminal side: its table of slash commands (what /help prints, Tab completes and
`Chat.command` dispatches through) and its private history file."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.history import FileHistory

# The one table of slash commands: /help prints it, Tab completes from it, `Chat.command`
# dispatches through it (the method is named after the command).
COMMANDS = {
    "/help": "show this help",
    "/direction": "/direction auto|en-zh|zh-en: which way to translate (auto: by each line's script)",
    "/beam": "/beam K: beam size (1 = greedy)",
    "/nbest": "/nbest N: show the N best translations with their scores",
    "/model": "/model PATH: switch to another run folder (fixes the direction to its own)",
    "/info": "the model card of the model that answered last: corpus, direction, architecture, scores",
    "/align": "the attention of the last translation as a heatmap (each sentence of a line of several)",
    "/glossary": "/glossary [add TERM = TRANSLATION | add TERM | remove TERM]: show or change the glossary (an empty translation keeps the term)",
    "/fix": "/fix TRANSLATION: keep it as the last line's translation (the memory serves it from now on); /fix alone edits the last one",
    "/memory": "/memory [N]: the last N entries of the translation memory",
    "/history": "/history [N]: the last N lines you entered",
    "/quit": "leave (Ctrl-D works too)",
    "/exit": "leave, as /quit",
}
QUIT = ("/quit", "/exit")


def history_path(explicit: str | None = None) -> Path:
    """--history-file, else $SEQ2SEQ_HISTORY, else the user state directory."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("SEQ2SEQ_HISTORY"):
        return Path(os.environ["SEQ2SEQ_HISTORY"])
    return Path(platformdirs.user_state_dir("seq2seq")) / "chat-history"


def private_history(path: Path) -> FileHistory:
    """FileHistory on a file created with mode 0600 (what you type can be private)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return FileHistory(str(path))


class SlashCompleter(Completer):
    def get_completions(self, document, complete_event):
        text = document.text_before_cursor
        if text.startswith("/") and " " not in text:
            for command, help_text in COMMANDS.items():
                if command.startswith(text):
                    yield Completion(command, start_position=-len(text), display_meta=help_text)
