"""The models: a recurrent encoder–decoder (recurrent.py, its attention layers in attention.py)
and a Transformer (transformer.py) behind one decoding interface (base.Decoder), their registry
(registry.py: imported without TensorFlow, for --help and validation), and the search written
once over that interface (search.py). Nothing is imported here: TensorFlow loads only when a
model module is used."""
