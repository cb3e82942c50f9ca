// Least privilege for the Function App's identity: each role on the narrowest scope the
// app's calls need (the table in docs/deploy.md says which call needs which).
param principalId string
param hostStorageAccountName string
param dataStorageAccountName string
param imageContainerName string
param sealContainerName string
param cosmosAccountName string
param cosmosDatabaseName string
param serviceBusNamespaceName string
param queueNames array
param platformVaultName string
param subjectKeyVaultName string
param appInsightsName string

// Built-in role definition ids (the same in every tenant).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageBlobDelegator = 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var serviceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'
// Cosmos DB's own data-plane role: read, write and query items, read the change feed.
var cosmosDataContributor = '00000000-0000-0000-0000-000000000002'

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource dataStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataStorageAccountName
}

resource dataBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: dataStorage
  name: 'default'
}

resource imageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: dataBlobs
  name: imageContainerName
}

resource sealContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: dataBlobs
  name: sealContainerName
}

resource cosmosAccount 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' existing = {
  name: cosmosAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = [for queueName in queueNames: {
  parent: serviceBus
  name: queueName
}]

resource platformVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: platformVaultName
}

resource subjectKeyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: subjectKeyVaultName
}

// Content Credentials: sign with the vault's keys and nothing else (no read, no export,
// no create, no delete). A custom role, since every built-in key role also reads keys.
resource contentCredentialsSigner 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(platformVault.id, 'content-credentials-signer')
  properties: {
    roleName: 'DonatelloAI Content Credentials Signer (${platformVault.name})'
    description: 'Sign with the platform vault\'s keys (ES256 for Content Credentials); nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.KeyVault/vaults/keys/sign/action'
        ]
        notDataActions: []
      }
    ]
    assignableScopes: [
      platformVault.id
    ]
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// The Functions host keeps its locks and the deployment package in its own account.
resource hostStorageOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, principalId, storageBlobDataOwner)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Images and seals: read and write on those two containers, nothing else in the account.
resource imageWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(imageContainer.id, principalId, storageBlobDataContributor)
  scope: imageContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource sealWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(sealContainer.id, principalId, storageBlobDataContributor)
  scope: sealContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Image links are user-delegation SAS: the key is asked of the account, and a link can
// grant no more than the identity holds on the container.
resource imageLinkSigner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dataStorage.id, principalId, storageBlobDelegator)
  scope: dataStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDelegator)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Scoped to the database: every container the app uses, and no other database.
resource cosmosData 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: cosmosAccount
  name: guid(cosmosAccount.id, cosmosDatabaseName, principalId, cosmosDataContributor)
  properties: {
    roleDefinitionId: '${cosmosAccount.id}/sqlRoleDefinitions/${cosmosDataContributor}'
    principalId: principalId
    scope: '${cosmosAccount.id}/dbs/${cosmosDatabaseName}'
  }
}

// Each queue is both sent to (the API, the recovery timer, the webhook dispatcher) and
// received from (its trigger); per queue, not on the namespace.
resource queueSenders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, i) in queueNames: {
  name: guid(serviceBus.id, queueName, principalId, serviceBusDataSender)
  scope: queues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

resource queueReceivers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, i) in queueNames: {
  name: guid(serviceBus.id, queueName, principalId, serviceBusDataReceiver)
  scope: queues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

// Provider keys and the webhook signing key: read only.
resource platformSecretsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(platformVault.id, principalId, keyVaultSecretsUser)
  scope: platformVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource contentCredentialsSigning 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(platformVault.id, principalId, 'content-credentials-signer')
  scope: platformVault
  properties: {
    roleDefinitionId: contentCredentialsSigner.id
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Subject keys: created on first use, deleted and purged on erasure. Secrets Officer's
// data actions (`secrets/*`) include purge; it is granted on this vault alone.
resource subjectKeyOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subjectKeyVault.id, principalId, keyVaultSecretsOfficer)
  scope: subjectKeyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry with an Entra token (App Insights has local auth off).
resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
