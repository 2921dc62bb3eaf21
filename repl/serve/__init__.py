"""`seq2seq-serve`: a local HTTP API in LibreTranslate's dialect, and a web page.

    command  the options, start-up and shutdown (the console script's main)
    app      the Starlette application: middleware, routes, state
    api      the API's handlers (/translate, /detect, /languages, /health, …)
    fields   reading a request: JSON or form bodies, keys, texts, options
    site     the web page's routes (/, /static, /translate_file, /model_cards) over web/
    routing  which model answers a text; batcher: one model's queue of requests
    limits   bodies, rates, connections and API keys; origins: Host and cross-site checks
"""
