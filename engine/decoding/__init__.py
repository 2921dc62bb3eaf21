"""Decoding: the `Translator` (a run folder → compiled searches → `Translation`s, through the
text pipeline), reverse-model reranking (`rerank`) and the result types (`translation`). The
searches themselves live with the models (engine/models/search.py)."""
