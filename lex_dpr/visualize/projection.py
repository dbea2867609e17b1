"""2-D maps of embeddings: UMAP (umap-learn) or t-SNE (scikit-learn), seeded, with a faithfulness score.

``bench/bench_visualize.py`` times both on the shared corpus and pairs (run_best), each in a fresh process as a
``visualize`` call runs it. t-SNE with 500 iterations is the default: on 274-551 points it took 12.5-15.2 s on
the shared 2-core machine, against 24-28 s for UMAP (numba compiles UMAP in every new process; warm, UMAP takes
0.6-1.3 s) and 14.6-18.4 s for t-SNE's default 1000 iterations, for a trustworthiness@10 of 0.834-0.850 (UMAP
0.850-0.871, t-SNE 1000: 0.838-0.855). ``--method umap`` draws the UMAP map.

Example:
    >>> import numpy as np
    >>> points = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    >>> xy, info = project_2d(points, "tsne", seed=0)
    >>> xy.shape, info["method"], 0.0 <= info["trustworthiness"] <= 1.0
    ((40, 2), 'tsne', True)
"""

from __future__ import annotations

import time

import numpy as np

from lex_dpr.errors import ConfigError

METHODS = ("umap", "tsne")
DEFAULT_METHOD = "tsne"
TSNE_ITERATIONS = 500  # half scikit-learn's default: twice as fast, trustworthiness -0.01


def project_2d(vectors: np.ndarray, method: str = DEFAULT_METHOD, seed: int = 42, neighbours: int = 15,
               trust_k: int = 10, iterations: int | None = None) -> tuple[np.ndarray, dict]:
    """Map ``vectors`` (n × d, cosine geometry) to 2-D; returns the points and ``{method, seconds, trustworthiness}``.

    ``trustworthiness`` (scikit-learn's, with ``trust_k`` neighbours, cosine) is 1.0 when every 2-D neighbour
    is a neighbour in the model's space too. Small inputs shrink the neighbourhood sizes to fit.
    ``iterations`` is t-SNE's ``max_iter`` (default :data:`TSNE_ITERATIONS`) or UMAP's ``n_epochs`` (default: its own).

    Raises:
        ConfigError: an unknown method or fewer than 4 points.
    """
    if method not in METHODS:
        raise ConfigError(f"--method {method!r} is not one of {', '.join(METHODS)}")
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    if n < 4:
        raise ConfigError(f"only {n} point(s) to map; raise --n-samples or check the pairs file")
    started = time.perf_counter()
    if method == "umap":
        try:
            import umap
        except ImportError:  # an extra (`pip install lex-dpr[umap]`)
            raise ConfigError("--method umap needs umap-learn: pip install 'lex-dpr[umap]' (or umap-learn); "
                              "--method tsne needs nothing more") from None

        reducer = umap.UMAP(n_components=2, n_neighbors=max(2, min(neighbours, n - 1)), metric="cosine",
                            random_state=seed, n_jobs=1, init="spectral" if n > 16 else "random",
                            n_epochs=iterations)
        xy = reducer.fit_transform(x)
    else:
        from sklearn.manifold import TSNE

        reducer = TSNE(n_components=2, metric="cosine", init="pca", random_state=seed,
                       perplexity=float(max(2, min(30, (n - 1) // 3))), max_iter=iterations or TSNE_ITERATIONS)
        xy = reducer.fit_transform(x)
    seconds = time.perf_counter() - started
    from sklearn.manifold import trustworthiness

    k = max(1, min(trust_k, n // 2 - 1))
    trust = float(trustworthiness(x, xy, n_neighbors=k, metric="cosine"))
    return np.asarray(xy, dtype=np.float64), {"method": method, "iterations": iterations if method == "umap" else iterations or TSNE_ITERATIONS,
                                               "seconds": round(seconds, 3),
                                               "trustworthiness": round(trust, 6), "trustworthiness_k": k,
                                               "points": n}
