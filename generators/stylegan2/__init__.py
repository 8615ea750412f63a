"""StyleGAN2(-ADA) generators with NVIDIA's weights, loaded safely by our own code.

Spec: "stylegan2:/path/network.pkl" (an NVIDIA snapshot pickle; its `G_ema` network) or
"stylegan2:/path/sd.pt" (a `torch.save` state dict plus its init kwargs JSON, found next to
it as `sd.json` or given as `init_kwargs_json=`).

Nothing a pickle carries is ever executed: `unpickler.py` reads the file with a restricted
unpickler (an allow-list of globals; network modules become inert records), `records.py`
walks the record tree to NVIDIA's tensor names, `kwargs.py` validates the init kwargs,
`weights.py` checks the tensors against our network and loads them, `network.py` is our
module (written from the papers, on the operations of `ops.py`), `generator.py` puts it
behind the project's Generator interface.
"""

from generators.stylegan2.generator import StyleGAN2Faces, load_stylegan2
from generators.stylegan2.network import StyleGAN2Generator
from generators.stylegan2.unpickler import InvalidWeightsError, UnsafePickleError

__all__ = [
    "StyleGAN2Generator",
    "StyleGAN2Faces",
    "load_stylegan2",
    "InvalidWeightsError",
    "UnsafePickleError",
]
