"""The published result tables of SKAB and NAB (``../shared/bench/README.md``), to print our
rows beside them."""

from __future__ import annotations

#: SKAB outlier task: (algorithm, F1, FAR %, MAR %), current leaderboard (b2c0d46).
SKAB_OUTLIER: tuple[tuple[str, float, float, float], ...] = (
    ("Perfect detector", 1.0, 0.0, 0.0),
    ("Conv-AE", 0.78, 13.55, 28.02),
    ("MSET", 0.78, 39.73, 14.13),
    ("T-squared+Q (PCA)", 0.76, 26.62, 24.92),
    ("LSTM-AE", 0.74, 29.96, 25.92),
    ("T-squared", 0.66, 19.21, 42.6),
    ("LSTM-VAE (stale row)", 0.56, 9.13, 55.03),
    ("Vanilla LSTM", 0.54, 12.54, 59.53),
    ("MSCRED", 0.36, 49.94, 69.88),
    ("Vanilla AE", 0.39, 2.59, 75.15),
    ("Isolation forest", 0.29, 2.56, 82.89),
    ("Null detector", 0.0, 0.0, 100.0),
)

#: SKAB changepoint task: (algorithm, NAB std, LowFP, LowFN, missed CPs, FPs).
SKAB_CHANGEPOINT: tuple[tuple[str, float, float, float, str, str], ...] = (
    ("Perfect detector", 100.0, 100.0, 100.0, "0", "0"),
    ("MSCRED (125 CPs)", 32.42, 16.53, 40.28, "55", "342"),
    ("Isolation forest", 26.16, 19.5, 30.82, "76", "135"),
    ("T-squared+Q (PCA)", 25.35, 14.51, 31.33, "72", "232"),
    ("Conv-AE", 23.61, 21.54, 27.55, "82", "23"),
    ("LSTM-AE", 23.51, 20.11, 25.91, "88", "69"),
    ("T-squared", 19.54, 10.2, 24.31, "70", "106"),
    ("MSET", 13.84, 10.22, 17.37, "96", "66"),
    ("Vanilla AE", 11.41, 6.53, 13.91, "103", "106"),
    ("Vanilla LSTM", 11.31, -3.8, 17.25, "90", "342"),
    ("ArimaFD", -0.09, -0.17, -0.06, "127", "2"),
    ("Null detector", 0.0, 0.0, 0.0, "-", "-"),
)

#: NAB scoreboard (v1.0 README at ea702d7): (detector, standard, low FP, low FN). Every row
#: uses NAB's corpus-optimised threshold, i.e. is tuned on the test labels.
NAB_SCOREBOARD: tuple[tuple[str, float, float, float], ...] = (
    ("Perfect", 100.0, 100.0, 100.0),
    ("ARTime", 74.9, 65.1, 80.4),
    ("Numenta HTM (NuPIC 1.0, best seed)", 70.5, 62.6, 75.2),
    ("Numenta HTM (NuPIC 0.5.6)", 70.1, 63.1, 74.3),
    ("CAD OSE", 69.9, 67.0, 73.2),
    ("earthgecko Skyline", 58.2, 46.2, 63.9),
    ("KNN CAD", 58.0, 43.4, 64.8),
    ("Relative Entropy", 54.6, 47.6, 58.8),
    ("Random Cut Forest", 51.7, 38.4, 59.7),
    ("Twitter ADVec v1.0.0", 47.1, 33.6, 53.5),
    ("Windowed Gaussian", 39.6, 20.9, 47.4),
    ("Etsy Skyline", 35.7, 27.1, 44.5),
    ("Bayesian Changepoint", 17.7, 3.2, 32.2),
    ("EXPoSE", 16.4, 3.2, 26.9),
    ("Random (seed mean)", 11.0, 1.2, 19.5),
    ("Null", 0.0, 0.0, 0.0),
)
