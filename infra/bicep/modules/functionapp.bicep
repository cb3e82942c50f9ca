// The Function App on the Flex Consumption plan: Python 3.11, a system-assigned identity,
// and app settings that name endpoints only. Every connection is identity-based: no key,
// connection string or SAS appears anywhere (docs/azure.md). The settings are exactly
// those services/settings.py reads, plus the platform's own (tests/infra checks both).
param location string
param tags object
param planName string
param appName string
param hostStorageAccountName string
param deploymentContainerUrl string
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int
param appInsightsConnectionString string
param cosmosEndpoint string
param cosmosDatabaseName string
param serviceBusNamespace string
param blobAccountUrl string
param imageContainerName string
param sealContainerName string
param platformVaultUrl string
param subjectKeyVaultUrl string
param tenantId string
param apiAudience string
@description('Origins whose pages may call the API from a browser: the console\'s only.')
@minLength(1)
param corsAllowedOrigins array
param enabledProviders string
param defaultMonthlyLimitAud string
@minValue(7)
param retentionYears int
param workspaceId string

// One seal every five minutes; the seal timer's schedule (`%DONATELLO_SEAL_SCHEDULE%`) is
// derived from it as `Settings.seal_schedule` derives it.
var sealIntervalMinutes = 5
var loginEndpoint = environment().authentication.loginEndpoint

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:Flex Consumption instances are placed by the platform; the plan has no zone-redundancy setting to turn on here.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222:The HTTP API is the product: its callers are on the internet. Every route but the health probes needs an Entra ID token, which the app validates itself (adapters/jwt_auth.py).
  // checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero by design (no minimum instance count); the recovery timer re-enqueues any work a cold start delayed.
  // checkov:skip=CKV_AZURE_17:Client certificates are not how callers authenticate; they present Entra bearer tokens.
  // checkov:skip=CKV_AZURE_213:Flex Consumption does not use the App Service health-check ping; liveness is /api/v1/health/live, watched by the first-run checks and the error-rate alert.
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        // Presidio's spaCy model and the image bytes in flight need more than the smallest size.
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
      detailedErrorLoggingEnabled: true
      httpLoggingEnabled: true
      requestTracingEnabled: true
      // The console calls with a bearer token, never a cookie: no credentials mode.
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: false
      }
      appSettings: [
        // --- the platform's own settings (not read by services/settings.py) ---
        {
          name: 'AzureWebJobsStorage__accountName'
          value: hostStorageAccountName
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD'
        }
        // host.json's telemetryMode is OpenTelemetry: the worker streams its own logs and
        // spans (the distro, adapters/otel_meter.py) instead of the host repeating them.
        {
          name: 'PYTHON_ENABLE_OPENTELEMETRY'
          value: 'true'
        }
        {
          name: 'PYTHON_THREADPOOL_THREAD_COUNT'
          value: '32'
        }
        {
          name: 'DONATELLO_SEAL_SCHEDULE'
          value: '0 */${sealIntervalMinutes} * * * *'
        }
        // --- identity-based connections, read by the host's triggers and by the settings ---
        {
          name: 'CosmosDbConnection__accountEndpoint'
          value: cosmosEndpoint
        }
        {
          name: 'ServiceBusConnection__fullyQualifiedNamespace'
          value: serviceBusNamespace
        }
        // --- services/settings.py: the Azure shape ---
        {
          name: 'DONATELLO_EVENT_STORE'
          value: 'cosmos'
        }
        {
          name: 'DONATELLO_COSMOS_DATABASE'
          value: cosmosDatabaseName
        }
        {
          name: 'DONATELLO_IMAGE_STORE'
          value: 'blob'
        }
        {
          name: 'DONATELLO_BLOB_ACCOUNT_URL'
          value: blobAccountUrl
        }
        {
          name: 'DONATELLO_IMAGE_CONTAINER'
          value: imageContainerName
        }
        {
          name: 'DONATELLO_SEAL_STORE'
          value: 'blob'
        }
        {
          name: 'DONATELLO_SEAL_CONTAINER'
          value: sealContainerName
        }
        {
          name: 'DONATELLO_SEAL_INTERVAL_MINUTES'
          value: '${sealIntervalMinutes}'
        }
        {
          name: 'DONATELLO_QUEUE'
          value: 'servicebus'
        }
        {
          name: 'DONATELLO_KEY_VAULT_URL'
          value: platformVaultUrl
        }
        {
          name: 'DONATELLO_SUBJECT_KEYS'
          value: 'keyvault'
        }
        // Content Credentials: the certificate (and its non-exportable key) in the
        // platform vault; scripts/c2pa-certificate makes it (docs/content-credentials.md).
        {
          name: 'DONATELLO_CONTENT_SIGNER'
          value: 'keyvault'
        }
        {
          name: 'DONATELLO_SUBJECT_KEY_VAULT_URL'
          value: subjectKeyVaultUrl
        }
        {
          name: 'DONATELLO_RETENTION_YEARS'
          value: '${retentionYears}'
        }
        // --- services/settings.py: who may call ---
        {
          name: 'DONATELLO_AUTH_MODE'
          value: 'entra'
        }
        {
          name: 'DONATELLO_ISSUER'
          value: '${loginEndpoint}${tenantId}/v2.0'
        }
        {
          name: 'DONATELLO_JWKS_URL'
          value: '${loginEndpoint}${tenantId}/discovery/v2.0/keys'
        }
        {
          name: 'DONATELLO_AUDIENCE'
          value: apiAudience
        }
        {
          name: 'DONATELLO_ALLOWED_TENANT_IDS'
          value: tenantId
        }
        // --- services/settings.py: what may be spent where ---
        {
          name: 'DONATELLO_ENABLED_PROVIDERS'
          value: enabledProviders
        }
        {
          name: 'DONATELLO_DEFAULT_MONTHLY_LIMIT_AUD'
          value: defaultMonthlyLimitAud
        }
      ]
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: app
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
  }
}

output appName string = app.name
output principalId string = app.identity.principalId
output apiBaseUrl string = 'https://${app.properties.defaultHostName}/api/v1'
