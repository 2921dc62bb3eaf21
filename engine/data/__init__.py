"""Data: where a corpus comes from and how it is read (`corpus`, `tatoeba`), the held-out
splits, vocabularies (`vocab`: characters, words, SentencePiece), preparation of a run's
encoded pairs (`prepare`), synthetic pairs from monolingual text (`synthetic`) and CC-CEDICT
(`dictionary`). No TensorFlow here."""
