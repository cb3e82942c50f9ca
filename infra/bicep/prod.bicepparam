using 'main.bicep'

// Production: Cosmos DB fails over to the paired region (still one write region), images
// and seals are zone- and geo-redundant.
param environmentName = 'prod'
param costCenter = readEnvironmentVariable('DONATELLO_COST_CENTER')
param owner = readEnvironmentVariable('DONATELLO_OWNER')
param alertEmails = split(readEnvironmentVariable('DONATELLO_ALERT_EMAILS'), ',')
param consoleClientId = readEnvironmentVariable('DONATELLO_CONSOLE_CLIENT_ID')
param apiAudience = readEnvironmentVariable('DONATELLO_API_AUDIENCE', 'api://donatello')
param enabledProviders = readEnvironmentVariable('DONATELLO_ENABLED_PROVIDERS', 'local')
param monthlyBudget = 2000
param maximumInstanceCount = 100
param cosmosMaxThroughput = 25000
param cosmosPairedReadRegion = true
param dataStorageSku = 'Standard_GZRS'
param logRetentionDays = 90
param errorRatePercent = 5
param consoleSku = 'Standard'
