"""AutoML: ``type: automl`` jobs are jobs (their kind is ``services/job_kinds/automl.py``);
this adds the ``shipyard automl`` commands that submit one without a file."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="automl", position=101, commands={"automl": "shipyard.cli.automl:app"}, cli_position=31
)
