"""The translation memory: a person's translations in SQLite (`store`), looked up before the
model by every tool, and moved in and out as TMX (`tmx`). No TensorFlow here."""
