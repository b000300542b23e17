# Sourced by the GPU scripts: log to $OUT/log.txt, unbuffered Python, and the pure-Python wheels that a
# stock torch image lacks (fvcore and its needs, mubench itself) from .whl/ when that folder exists.
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
