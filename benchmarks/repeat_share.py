"""How much each tune repeats itself: the share of its bars equal to an earlier bar, tune by tune.

    python benchmarks/repeat_share.py MODEL SEED

The distribution over tunes (not only the mean `fidelity.py` reports): the
model's held-out tunes, 200 tunes as `tunesmith generate` writes them, and
the same without the copy model. Tells whether a model's repetition is
spread as real tunes' is, or comes from a few tunes that repeat everything.
"""

import sys
from tunesmith.modes.abc.fidelity import tune_form
from tunesmith.checkpoint import load_checkpoint
from tunesmith.corpus.load import recorded_corpus
from tunesmith.modes import mode_name
from tunesmith.options import Sampling
ck = load_checkpoint(sys.argv[1])
corpus = recorded_corpus(ck.meta["corpus"], mode_name(ck.meta), ck.codec)
def dist(name, texts):
    fs = [tune_form(t) for t in texts]
    shares = [f.repeated_bars / f.bars for f in fs if f.bars]
    n = len(shares)
    b = [sum(lo <= x < hi for x in shares) / n for lo, hi in ((0, .1), (.1, .3), (.3, .5), (.5, .7), (.7, 1.01))]
    print(f"{name:28s}", " ".join(f"{x:.2f}" for x in b), f"mean {sum(shares)/n:.3f}")
print("repeated-bar share per tune:  <.1  .1-.3 .3-.5 .5-.7 >=.7")
dist("held-out", [t.text for t in corpus.held_out])
from tunesmith.modes import GenerateRequest, get_mode
from tunesmith.modes.abc import Style
m = get_mode("abc")
dist("generate (copy model)", m.write(ck, GenerateRequest(n=200, seed=int(sys.argv[2]), sampling=Sampling(), options=Style())))
dist("generate --no-copy", m.write(ck, GenerateRequest(n=200, seed=int(sys.argv[2]), sampling=Sampling(copy=False), options=Style())))
