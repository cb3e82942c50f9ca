// DonatelloAI on Azure: every resource of one environment, in one resource group.
// Naming and tagging conventions: docs/deploy.md, "Conventions" (tests/infra checks them).
targetScope = 'resourceGroup'

@description('The environment: names, tags and sizes follow it.')
@allowed([
  'dev'
  'prod'
])
param environmentName string

@description('Primary region; the data stays in Australia.')
param location string = 'australiaeast'

@description('The primary region\'s pair: Cosmos DB\'s failover read region and the storage geo-replica.')
param pairedLocation string = 'australiasoutheast'

@description('Short lowercase project token, used in every name.')
@minLength(3)
@maxLength(9)
param projectName string = 'donatello'

@description('Cost centre the organisation bills this environment to.')
param costCenter string

@description('Team or person accountable for the environment.')
param owner string

@description('Where alerts (errors, dead letters, budget) are e-mailed.')
param alertEmails array

@description('Monthly Azure spend budget for the resource group, in the billing currency.')
param monthlyBudget int

@description('Three budget notification thresholds on actual spend, percent of the monthly budget.')
param budgetThresholds array = [
  50
  80
  100
]

@description('First day of the budget period (yyyy-MM-01); it cannot lie in the past when created.')
param budgetStartDate string = utcNow('yyyy-MM-01')

@description('Failed requests, percent of all requests over 15 minutes, above which the error-rate alert fires.')
param errorRatePercent int = 5

@description('Seconds a work queue\'s oldest unsettled message may wait before its alert fires.')
@minValue(60)
param queueAgeSeconds int = 300

@description('Seconds a projection may lag the event log (its batch\'s oldest event) before its alert fires.')
@minValue(60)
param projectionLagSeconds int = 120

@description('Adds the paired region to Cosmos DB as a read (failover) region; still one write region.')
param cosmosPairedReadRegion bool = false

@description('Autoscale ceiling of the database\'s shared throughput, RU/s, a multiple of 1000 (docs/cosmos-costs.md sizes it).')
@minValue(1000)
param cosmosMaxThroughput int = 1000

@description('Storage redundancy for images and seals.')
@allowed([
  'Standard_GZRS'
  'Standard_RAGZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param dataStorageSku string = 'Standard_GZRS'

@description('Most instances the Flex Consumption plan may scale to.')
param maximumInstanceCount int = 40

@description('Days Log Analytics keeps logs (the logs hold no prompt text).')
param logRetentionDays int = 90

@description('Entra ID tenant whose tokens the API accepts.')
param tenantId string = subscription().tenantId

@description('Audience (application ID URI) the API\'s tokens carry.')
param apiAudience string

@description('The console\'s app registration (a single-page application): its client id.')
param consoleClientId string

@description('The delegated scope the console asks Entra for to call the API (docs/identity.md).')
param consoleApiScope string = '${apiAudience}/user_impersonation'

@description('Static Web Apps region for the console: the service is offered in few regions, and the console holds no data (its files are public and the same for everyone).')
@allowed([
  'eastasia'
  'centralus'
  'eastus2'
  'westus2'
  'westeurope'
])
param consoleLocation string = 'eastasia'

@description('Static Web Apps plan of the console.')
@allowed([
  'Free'
  'Standard'
])
param consoleSku string = 'Free'

@description('Image providers the platform may route to (comma-separated provider names).')
param enabledProviders string = 'local'

@description('Default monthly limit per department, AUD.')
param defaultMonthlyLimitAud string = '500.00'

// --- conventions -------------------------------------------------------------------
// <abbreviation>-<project>-<environment>-<suffix>; the suffix makes global names unique.
var suffix = take(uniqueString(subscription().id, resourceGroup().id, projectName, environmentName), 5)
var baseName = '${projectName}-${environmentName}-${suffix}'
// Storage accounts allow only 3-24 lowercase letters and digits.
var compactName = '${projectName}${environmentName}${suffix}'
var tags = {
  Environment: environmentName
  Project: projectName
  CostCenter: costCenter
  Owner: owner
}

// The app's own names: containers, queues and the database (services/*.py).
var cosmosDatabaseName = 'donatello'
var imageContainerName = 'images'
var sealContainerName = 'seals'
var generationQueueName = 'generation-jobs'
var webhookQueueName = 'webhook-deliveries'
// Seven years counted in days, leap days included (docs/retention.md).
var retentionDays = 2557

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    workspaceName: 'log-${baseName}'
    appInsightsName: 'appi-${baseName}'
    retentionDays: logRetentionDays
  }
}

module hostStorage 'modules/host-storage.bicep' = {
  name: 'host-storage'
  params: {
    location: location
    tags: tags
    accountName: take('st${compactName}fn', 24)
    workspaceId: monitoring.outputs.workspaceId
  }
}

module dataStorage 'modules/data-storage.bicep' = {
  name: 'data-storage'
  params: {
    location: location
    tags: tags
    accountName: take('st${compactName}data', 24)
    skuName: dataStorageSku
    imageContainerName: imageContainerName
    sealContainerName: sealContainerName
    retentionDays: retentionDays
    workspaceId: monitoring.outputs.workspaceId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    location: location
    pairedLocation: pairedLocation
    pairedReadRegion: cosmosPairedReadRegion
    tags: tags
    accountName: 'cosmos-${baseName}'
    databaseName: cosmosDatabaseName
    maxThroughput: cosmosMaxThroughput
    workspaceId: monitoring.outputs.workspaceId
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    location: location
    tags: tags
    namespaceName: 'sb-${baseName}'
    queueNames: [
      generationQueueName
      webhookQueueName
    ]
    workspaceId: monitoring.outputs.workspaceId
  }
}

module keyVaults 'modules/keyvault.bicep' = {
  name: 'keyvaults'
  params: {
    location: location
    tags: tags
    tenantId: tenantId
    platformVaultName: 'kv-${baseName}'
    subjectKeyVaultName: 'kvs-${baseName}'
    workspaceId: monitoring.outputs.workspaceId
  }
}

module consoleSite 'modules/staticwebapp.bicep' = {
  name: 'console'
  params: {
    location: consoleLocation
    tags: tags
    siteName: 'stapp-${baseName}'
    siteSku: consoleSku
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: tags
    planName: 'asp-${baseName}'
    appName: 'func-${baseName}'
    hostStorageAccountName: hostStorage.outputs.accountName
    deploymentContainerUrl: hostStorage.outputs.deploymentContainerUrl
    maximumInstanceCount: maximumInstanceCount
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    blobAccountUrl: dataStorage.outputs.blobEndpoint
    imageContainerName: dataStorage.outputs.imageContainerName
    sealContainerName: dataStorage.outputs.sealContainerName
    platformVaultUrl: keyVaults.outputs.platformVaultUrl
    subjectKeyVaultUrl: keyVaults.outputs.subjectKeyVaultUrl
    tenantId: tenantId
    apiAudience: apiAudience
    corsAllowedOrigins: [
      consoleSite.outputs.origin
    ]
    enabledProviders: enabledProviders
    defaultMonthlyLimitAud: defaultMonthlyLimitAud
    retentionYears: 7
    workspaceId: monitoring.outputs.workspaceId
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: functionApp.outputs.principalId
    hostStorageAccountName: hostStorage.outputs.accountName
    dataStorageAccountName: dataStorage.outputs.accountName
    imageContainerName: dataStorage.outputs.imageContainerName
    sealContainerName: dataStorage.outputs.sealContainerName
    cosmosAccountName: cosmos.outputs.accountName
    cosmosDatabaseName: cosmos.outputs.databaseName
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    queueNames: serviceBus.outputs.queueNames
    platformVaultName: keyVaults.outputs.platformVaultName
    subjectKeyVaultName: keyVaults.outputs.subjectKeyVaultName
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    actionGroupName: 'ag-${baseName}'
    actionGroupShortName: take('dn${environmentName}', 12)
    alertPrefix: 'alert-${baseName}'
    budgetName: 'budget-${baseName}'
    alertEmails: alertEmails
    appInsightsId: monitoring.outputs.appInsightsId
    serviceBusNamespaceId: serviceBus.outputs.namespaceId
    errorRatePercent: errorRatePercent
    queueAgeSeconds: queueAgeSeconds
    projectionLagSeconds: projectionLagSeconds
    monthlyBudget: monthlyBudget
    budgetThresholds: budgetThresholds
    budgetStartDate: budgetStartDate
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: tags
    displayName: 'DonatelloAI operations (${baseName})'
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

// What `azd` and docs/deploy.md's first-run checks read.
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.appName
output API_BASE_URL string = functionApp.outputs.apiBaseUrl
output SEALS_STORAGE_ACCOUNT string = dataStorage.outputs.accountName
output CONSOLE_URL string = consoleSite.outputs.origin
// What web/scripts/azure-config.mjs writes into the console's config.json at deploy time.
output AZURE_TENANT_ID string = tenantId
output CONSOLE_CLIENT_ID string = consoleClientId
output CONSOLE_API_SCOPE string = consoleApiScope
output SUBJECT_KEY_VAULT_NAME string = keyVaults.outputs.subjectKeyVaultName
