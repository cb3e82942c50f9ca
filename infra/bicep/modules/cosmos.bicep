// Cosmos DB for NoSQL: the event store (`events`), the projections (`views`) and the
// change-feed leases. One write region, session consistency, continuous backup.
// No container has a defaultTtl: TTL stays off, so no event can ever expire
// (docs/retention.md, "Cosmos TTL").
param location string
param pairedLocation string
param pairedReadRegion bool
param tags object
param accountName string
param databaseName string
@minValue(1000)
param maxThroughput int
param workspaceId string

var primaryRegion = [
  {
    locationName: location
    failoverPriority: 0
    isZoneRedundant: false
  }
]
var readRegion = [
  {
    locationName: pairedLocation
    failoverPriority: 1
    isZoneRedundant: false
  }
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  // checkov:skip=CKV_AZURE_101:The Function App is not VNet-integrated yet, so it reaches Cosmos DB over the public endpoint; local (key) auth is disabled, every request needs an Entra token with a data-plane role. Private networking is tracked in docs/deploy.md, "Not yet".
  // checkov:skip=CKV_AZURE_99:Same as CKV_AZURE_101: no IP or VNet filter can name a Flex Consumption app's outbound addresses without VNet integration.
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: pairedReadRegion ? concat(primaryRegion, readRegion) : primaryRegion
    enableMultipleWriteLocations: false
    enableAutomaticFailover: pairedReadRegion
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: {
        tier: 'Continuous7Days'
      }
    }
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    publicNetworkAccess: 'Enabled'
    minimalTlsVersion: 'Tls12'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: {
      autoscaleSettings: {
        maxThroughput: maxThroughput
      }
    }
  }
}

// Partition key, indexing and unique keys as adapters/cosmos_event_store.py creates them
// on an emulator (tests/infra checks both agree): a unique key cannot be added later.
resource events 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'events'
  properties: {
    resource: {
      id: 'events'
      partitionKey: {
        paths: [
          '/streamId'
        ]
        kind: 'Hash'
      }
      uniqueKeyPolicy: {
        uniqueKeys: [
          {
            paths: [
              '/eventId'
            ]
          }
        ]
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/streamId/?'
          }
          {
            path: '/version/?'
          }
          {
            path: '/eventId/?'
          }
          {
            path: '/recordedAt/?'
          }
          {
            path: '/type/?'
          }
          {
            path: '/_ts/?'
          }
        ]
        excludedPaths: [
          {
            path: '/*'
          }
        ]
        compositeIndexes: [
          [
            {
              path: '/recordedAt'
              order: 'ascending'
            }
            {
              path: '/streamId'
              order: 'ascending'
            }
            {
              path: '/version'
              order: 'ascending'
            }
          ]
          [
            {
              path: '/streamId'
              order: 'ascending'
            }
            {
              path: '/version'
              order: 'descending'
            }
          ]
        ]
      }
    }
  }
}

// As adapters/cosmos_views.py creates it.
resource views 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'views'
  properties: {
    resource: {
      id: 'views'
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/projection/?'
          }
          {
            path: '/key/?'
          }
          {
            path: '/partition/?'
          }
          {
            path: '/view/user_id/?'
          }
          {
            path: '/view/department_id/?'
          }
          {
            path: '/view/status/?'
          }
          {
            path: '/view/created_at/?'
          }
          {
            path: '/view/updated_at/?'
          }
        ]
        excludedPaths: [
          {
            path: '/*'
          }
        ]
        compositeIndexes: [
          [
            {
              path: '/view/created_at'
              order: 'descending'
            }
            {
              path: '/key'
              order: 'descending'
            }
          ]
        ]
      }
    }
  }
}

// As adapters/cosmos_snapshots.py creates it: folded states, a cache of the log (deleting
// every item changes no answer), read by id within the stream's partition only.
resource snapshots 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'snapshots'
  properties: {
    resource: {
      id: 'snapshots'
      partitionKey: {
        paths: [
          '/streamId'
        ]
        kind: 'Hash'
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: []
        excludedPaths: [
          {
            path: '/*'
          }
        ]
      }
    }
  }
}

// The change-feed triggers' leases (functions/projector.py, functions/webhooks.py): a
// managed identity cannot create containers, so the triggers never do.
resource leases 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'leases'
  properties: {
    resource: {
      id: 'leases'
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
      }
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: account
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
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
