using 'main.bicep'

// Development: small, cheap, one region. Who owns it and where alerts go come from the
// environment (azd env set ..., docs/deploy.md), not from the repository.
param environmentName = 'dev'
param costCenter = readEnvironmentVariable('DONATELLO_COST_CENTER')
param owner = readEnvironmentVariable('DONATELLO_OWNER')
param alertEmails = split(readEnvironmentVariable('DONATELLO_ALERT_EMAILS'), ',')
param consoleClientId = readEnvironmentVariable('DONATELLO_CONSOLE_CLIENT_ID')
param apiAudience = readEnvironmentVariable('DONATELLO_API_AUDIENCE', 'api://donatello-dev')
param monthlyBudget = 200
param maximumInstanceCount = 10
param cosmosMaxThroughput = 1000
param cosmosPairedReadRegion = false
param dataStorageSku = 'Standard_GRS'
param logRetentionDays = 30
param errorRatePercent = 10
