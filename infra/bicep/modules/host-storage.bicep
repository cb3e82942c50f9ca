// The Functions host's own storage: AzureWebJobsStorage (timer locks, host keys) and the
// Flex Consumption deployment package. No shared keys: the app reaches it as its identity.
param location string
param tags object
@minLength(3)
@maxLength(24)
param accountName string
param workspaceId string

var deploymentContainerName = 'deployment-package'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:Flex Consumption reaches its host storage over the public endpoint unless the app is VNet-integrated; access needs an Entra token (shared keys are off). Private networking is tracked in docs/deploy.md, "Not yet".
  // checkov:skip=CKV_AZURE_43:The name is a parameter checkov cannot resolve; main.bicep builds it from lowercase letters and digits, at most 24 (take(...)), and tests/infra/test_bicep_structure.py checks that rule.
  // checkov:skip=CKV_AZURE_59:Same as CKV_AZURE_35: the host and azd's deployment upload reach the account publicly, with Entra tokens only.
  // checkov:skip=CKV_AZURE_206:The host account holds only timer locks and the deployment package, both recreated by a redeploy, so zone-redundant storage without geo-replication is enough.
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_ZRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output accountName string = account.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
