"""The AutoML engine: what runs inside an AutoML job's child command jobs (issue 17).

    python -m shipyard.automl trial  --settings S --training-data P [--validation-data P]
                                     --algorithm NAME --params JSON [--trial N]
    python -m shipyard.automl finish --settings S --training-data P [--validation-data P]
                                     [--test-data P] --leaderboard L --model-name NAME

``data`` reads tables, ``featurize`` decides what each column is, ``candidates`` builds
estimators from Azure's algorithm names, ``cv`` splits, ``trial`` validates one candidate,
``metrics`` computes Azure's metrics, ``ensemble`` chooses a voting ensemble, ``forecasting``
fits and validates forecasters, ``importance`` explains, ``model`` logs and registers,
``finish`` ties the end together. The contract with the job that runs it is
:mod:`shipyard.domain.automl`. Nothing here is imported by the server.
"""

__all__: list[str] = []
