// Images and audit seals. Seals sit under a seven-year time-based immutability policy;
// images move to cheaper tiers as they age and go once their seven years are over.
param location string
param tags object
@minLength(3)
@maxLength(24)
param accountName string
@allowed([
  'Standard_GZRS'
  'Standard_RAGZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param skuName string = 'Standard_GZRS'
param imageContainerName string
param sealContainerName string
@minValue(2557)
param retentionDays int
param workspaceId string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:API clients download images through short-lived user-delegation SAS links, so the blob endpoint must be reachable from the internet; shared keys and anonymous access are off, every request needs an Entra-signed token or SAS.
  // checkov:skip=CKV_AZURE_43:The name is a parameter checkov cannot resolve; main.bicep builds it from lowercase letters and digits, at most 24 (take(...)), and tests/infra/test_bicep_structure.py checks that rule.
  // checkov:skip=CKV_AZURE_59:Same as CKV_AZURE_35: image links are fetched by clients over the public endpoint.
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
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
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: 30
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 30
    }
  }
}

resource imageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: imageContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource sealContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: sealContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Unlocked when created: lock it once verified (docs/deploy.md, first-run checks). A
// locked policy can be lengthened, never shortened or removed.
resource sealImmutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: sealContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: retentionDays
    allowProtectedAppendWrites: false
  }
}

// Cool at 30 days and Cold at 180 (images are rarely fetched after their first week);
// no Archive tier: an archived blob cannot be read through the API's short-lived links
// without hours of rehydration (docs/retention.md).
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'images-age-out'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${imageContainerName}/'
              ]
            }
            actions: {
              baseBlob: {
                tierToCool: {
                  daysAfterCreationGreaterThan: 30
                }
                tierToCold: {
                  daysAfterCreationGreaterThan: 180
                }
                delete: {
                  daysAfterCreationGreaterThan: retentionDays
                }
              }
              version: {
                delete: {
                  daysAfterCreationGreaterThan: retentionDays
                }
              }
            }
          }
        }
        {
          name: 'seals-expire'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${sealContainerName}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: retentionDays
                }
              }
              version: {
                delete: {
                  daysAfterCreationGreaterThan: retentionDays
                }
              }
            }
          }
        }
      ]
    }
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
// Without a trailing slash, as DONATELLO_BLOB_ACCOUNT_URL is written elsewhere.
output blobEndpoint string = 'https://${account.name}.blob.${environment().suffixes.storage}'
output imageContainerName string = imageContainer.name
output sealContainerName string = sealContainer.name
