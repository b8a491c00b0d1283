# Every target sets up what it needs; a fresh machine with Python 3.11 needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test models models-default models-small bench tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
# --soundfont's player; without its pyaudio requirement, which only live playback uses and needs C headers to build.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps tinysoundfont==0.3.7
	touch $(STAMP)

# The independent judge used by the tests: abc2midi (Debian package abcmidi);
# the browser the web app's tests drive: chromium (Playwright uses it; nothing is downloaded);
# cairo, which cairosvg draws PDF sheet music with (libcairo2; chromium brings it too), and a serif font for titles.
tools:
	@command -v abc2midi >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq abcmidi >/dev/null; }
	@command -v abc2midi >/dev/null
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@command -v chromium >/dev/null
	@ldconfig -p | grep -q 'libcairo.so.2 ' && fc-list 2>/dev/null | grep -qi 'serif' || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libcairo2 fonts-liberation fontconfig >/dev/null; }
	@ldconfig -p | grep -q 'libcairo.so.2 '

demo: $(STAMP)
	$(BIN)/tunesmith generate -n 5 --seed 1 -o out/demo.abc --render midi,wav,svg
	@cat out/demo.abc
	@ls out/demo-*

# Two pytest workers, one test file each at a time (pytest-xdist); then the wall-clock timing tests on their own.
test: $(STAMP) tools
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 -m 'not serial'
	$(BIN)/python -m pytest -q -m serial

# Retrain the shipped models from the bundled corpora: the default model on one core (85 CPU minutes), the
# tabla and MIDI models one after the other on the other core meanwhile; about 90 minutes on an idle 2-core CPU.
models: $(STAMP)
	$(MAKE) -j2 models-default models-small

# bf16 is fast with AVX512-BF16/AMX; elsewhere it is emulated and the same CPU budget buys fewer epochs.
models-default: $(STAMP)
	rm -rf runs/default
	$(BIN)/tunesmith train --corpus folk --preset seed --transpose common --precision bf16 --minutes 85 --epochs 30 --seed 1 --threads 1 --out runs/default
	$(BIN)/tunesmith package runs/default models/default --notes docs/cards/default.md
	$(BIN)/python -m tunesmith.modes.abc.originality models/default   # its training tunes' bars, for --max-copy-bars

models-small: $(STAMP)
	rm -rf runs/tabla   # the tabla model: a GRU, about 3 minutes
	$(BIN)/tunesmith train --mode tabla --corpus tabla --preset small --arch gru --epochs 150 --seed 1 --threads 1 --out runs/tabla
	$(BIN)/tunesmith package runs/tabla models/tabla --name tabla
	$(BIN)/python benchmarks/tabla.py --card --notes docs/cards/tabla.md
	rm -rf runs/midi   # the MIDI model: a GRU, about 4 minutes on an idle CPU
	$(BIN)/tunesmith train --mode midi --corpus bach-chorales --preset small --arch gru --epochs 30 --seed 1 --threads 1 --out runs/midi
	$(BIN)/tunesmith package runs/midi models/midi --name midi --notes docs/cards/midi.md
	$(BIN)/python benchmarks/midi_encode.py --card

bench: $(STAMP) tools
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/validity.py
	$(BIN)/python benchmarks/wellformed.py
	$(BIN)/python benchmarks/check_agreement.py
	$(BIN)/python benchmarks/render_speed.py
	$(BIN)/python benchmarks/fuzz_render.py
	$(BIN)/python benchmarks/midi_encode.py
	$(BIN)/python benchmarks/web_latency.py
	$(BIN)/python benchmarks/evaluate_speed.py
	$(BIN)/python benchmarks/int8.py

clean:
	rm -rf $(VENV) out .pytest_cache
