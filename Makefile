# Two commands do all the set-up on a fresh machine (see README.md):
#   make run    installs everything into .venv and starts the bot
#               (Telegram when TELEGRAM_BOT_TOKEN is set, otherwise a chat in the terminal)
#   make test   installs everything into .venv and runs the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install bench

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	-$(PY) -m bot ask "hej" > /dev/null  # builds the engine cache (.cache/); a later edit rebuilds it
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m bot

test: $(STAMP)
	$(PY) -m bot check
	$(PY) -m pytest

# The numbers in the notes: accuracy, latency, throughput (takes a few minutes).
bench: $(STAMP)
	$(PY) -m bot eval
	$(PY) tests/bench/bench_engine.py
	$(PY) tests/bench/bench_broadcast.py
	$(PY) tests/bench/bench_load.py
