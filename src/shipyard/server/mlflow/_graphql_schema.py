"""MLflow's GraphQL schema, as its web UI queries it, in GraphQL's own schema language.

Type and field names are MLflow's (its server generates them from the protobuf messages:
``MlflowGetRunInput``, ``runUuid``, ``LongString`` for 64-bit integers sent as strings so
JavaScript keeps every digit), so the UI's queries validate here unchanged, the
``@component`` directive it puts on every operation included. Like MLflow's,
``mlflowSearchRuns`` is both a query and a mutation and ``mlflowSearchDatasets`` a mutation,
although both only read. ``test``/``testMutation`` echo their input, as MLflow's do.
"""

from __future__ import annotations

__all__ = ["SDL"]

SDL = '''
directive @component(name: String!) on QUERY | MUTATION

"""A 64-bit integer sent as a string, so JavaScript keeps every digit."""
scalar LongString

type Query {
  mlflowGetExperiment(input: MlflowGetExperimentInput): MlflowGetExperimentResponse
  mlflowGetMetricHistoryBulkInterval(
    input: MlflowGetMetricHistoryBulkIntervalInput
  ): MlflowGetMetricHistoryBulkIntervalResponse
  mlflowGetRun(input: MlflowGetRunInput): MlflowGetRunResponse
  mlflowListArtifacts(input: MlflowListArtifactsInput): MlflowListArtifactsResponse
  mlflowSearchModelVersions(input: MlflowSearchModelVersionsInput): MlflowSearchModelVersionsResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
  test(inputString: String): Test
}

type Mutation {
  mlflowSearchDatasets(input: MlflowSearchDatasetsInput): MlflowSearchDatasetsResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
  testMutation(inputString: String): TestMutation
}

type Test {
  output: String
}

type TestMutation {
  output: String
}

type ErrorDetail {
  field: String
  message: String
}

type ApiError {
  code: String
  message: String
  helpUrl: String
  traceId: String
  errorDetails: [ErrorDetail]
}

enum MlflowRunStatus {
  RUNNING
  SCHEDULED
  FINISHED
  FAILED
  KILLED
}

enum MlflowViewType {
  ACTIVE_ONLY
  DELETED_ONLY
  ALL
}

enum MlflowModelVersionStatus {
  PENDING_REGISTRATION
  FAILED_REGISTRATION
  READY
}

type MlflowExperimentTag {
  key: String
  value: String
}

type MlflowExperiment {
  experimentId: String
  name: String
  artifactLocation: String
  lifecycleStage: String
  lastUpdateTime: LongString
  creationTime: LongString
  tags: [MlflowExperimentTag!]
  workspace: String
}

type MlflowGetExperimentResponse {
  experiment: MlflowExperiment
  apiError: ApiError
}

type MlflowRunInfo {
  runId: String
  runUuid: String
  runName: String
  experimentId: String
  userId: String
  status: MlflowRunStatus
  startTime: LongString
  endTime: LongString
  artifactUri: String
  lifecycleStage: String
}

type MlflowMetricExtension {
  key: String
  value: Float
  timestamp: LongString
  step: LongString
  datasetName: String
  datasetDigest: String
  modelId: String
  runId: String
}

type MlflowParam {
  key: String
  value: String
}

type MlflowRunTag {
  key: String
  value: String
}

type MlflowRunData {
  metrics: [MlflowMetricExtension!]
  params: [MlflowParam!]
  tags: [MlflowRunTag!]
}

type MlflowDataset {
  name: String
  digest: String
  sourceType: String
  source: String
  schema: String
  profile: String
}

type MlflowInputTag {
  key: String
  value: String
}

type MlflowDatasetInput {
  tags: [MlflowInputTag!]
  dataset: MlflowDataset
}

type MlflowModelInput {
  modelId: String
}

type MlflowRunInputs {
  datasetInputs: [MlflowDatasetInput!]
  modelInputs: [MlflowModelInput!]
}

type MlflowModelOutput {
  modelId: String
  step: LongString
}

type MlflowRunOutputs {
  modelOutputs: [MlflowModelOutput!]
}

type MlflowModelVersionTag {
  key: String
  value: String
}

type MlflowModelParam {
  name: String
  value: String
}

type MlflowModelMetric {
  key: String
  value: Float
  timestamp: LongString
  step: LongString
  datasetName: String
  datasetDigest: String
  modelId: String
  runId: String
}

type MlflowModelVersion {
  name: String
  version: String
  creationTimestamp: LongString
  lastUpdatedTimestamp: LongString
  userId: String
  currentStage: String
  description: String
  source: String
  runId: String
  status: MlflowModelVersionStatus
  statusMessage: String
  tags: [MlflowModelVersionTag!]
  runLink: String
  aliases: [String]
  modelId: String
  modelParams: [MlflowModelParam!]
  modelMetrics: [MlflowModelMetric!]
}

type MlflowRunExtension {
  info: MlflowRunInfo
  data: MlflowRunData
  inputs: MlflowRunInputs
  outputs: MlflowRunOutputs
  experiment: MlflowExperiment
  modelVersions: [MlflowModelVersion!]
}

type MlflowGetRunResponse {
  run: MlflowRunExtension
  apiError: ApiError
}

type MlflowSearchRunsResponse {
  runs: [MlflowRunExtension!]
  nextPageToken: String
  apiError: ApiError
}

type MlflowSearchModelVersionsResponse {
  modelVersions: [MlflowModelVersion!]
  nextPageToken: String
  apiError: ApiError
}

type MlflowDatasetSummary {
  experimentId: String
  name: String
  digest: String
  context: String
}

type MlflowSearchDatasetsResponse {
  datasetSummaries: [MlflowDatasetSummary!]
  apiError: ApiError
}

type MlflowMetricWithRunId {
  key: String
  value: Float
  timestamp: LongString
  step: LongString
  runId: String
}

type MlflowGetMetricHistoryBulkIntervalResponse {
  metrics: [MlflowMetricWithRunId!]
  apiError: ApiError
}

type MlflowFileInfo {
  path: String
  isDir: Boolean
  fileSize: LongString
}

type MlflowListArtifactsResponse {
  rootUri: String
  files: [MlflowFileInfo!]
  nextPageToken: String
  apiError: ApiError
}

input MlflowGetExperimentInput {
  experimentId: String
}

input MlflowGetRunInput {
  runId: String
  runUuid: String
}

input MlflowSearchRunsInput {
  experimentIds: [String]
  filter: String
  runViewType: MlflowViewType
  maxResults: Int
  orderBy: [String]
  pageToken: String
}

input MlflowSearchModelVersionsInput {
  filter: String
  maxResults: LongString
  orderBy: [String]
  pageToken: String
}

input MlflowSearchDatasetsInput {
  experimentIds: [String]
}

input MlflowGetMetricHistoryBulkIntervalInput {
  runIds: [String]
  metricKey: String
  startStep: Int
  endStep: Int
  maxResults: Int
}

input MlflowListArtifactsInput {
  runId: String
  runUuid: String
  path: String
  pageToken: String
}
'''
