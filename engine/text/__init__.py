"""The text pipeline, one set of functions that training and every tool use:

    normalise → segment into sentences → protect spans (numbers, URLs, unknown names, glossary
    terms) → [the model] → restore spans → rejoin sentences

and the file formats around it (plain lines, HTML, SRT subtitles). Plain Python: no TensorFlow.
"""
