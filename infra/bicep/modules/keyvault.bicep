// Two vaults, both in RBAC mode with soft delete: the platform vault (provider API keys,
// the webhook signing key) with purge protection, and the subject-key vault, whose keys
// erasure destroys for good: purge protection off, shortest soft-delete retention
// (docs/retention.md, "What infrastructure must set").
param location string
param tags object
param tenantId string
param platformVaultName string
param subjectKeyVaultName string
param workspaceId string

resource platformVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:The Function App is not VNet-integrated yet, so its requests come from shared outbound addresses that no firewall rule can name; access is RBAC-only (Key Vault Secrets User on this vault). Tracked in docs/deploy.md, "Not yet".
  // checkov:skip=CKV_AZURE_189:Same as CKV_AZURE_109: public network access stays on until the app is VNet-integrated.
  name: platformVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource subjectKeyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_110:Erasure (crypto-shredding) purges a subject's key; with purge protection a destroyed key would stay recoverable for the retention days, defeating the erasure (docs/retention.md).
  // checkov:skip=CKV_AZURE_42:Recovery is on (soft delete, 7 days) but purge protection is off on purpose; see CKV_AZURE_110.
  // checkov:skip=CKV_AZURE_109:As for the platform vault: no VNet integration yet, access is RBAC-only (Key Vault Secrets Officer on this vault alone).
  // checkov:skip=CKV_AZURE_189:As for the platform vault: public network access stays on until the app is VNet-integrated.
  name: subjectKeyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'None'
    }
  }
}

resource platformDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: platformVault
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

resource subjectKeyDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: subjectKeyVault
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

output platformVaultName string = platformVault.name
output platformVaultUrl string = platformVault.properties.vaultUri
output subjectKeyVaultName string = subjectKeyVault.name
output subjectKeyVaultUrl string = subjectKeyVault.properties.vaultUri
