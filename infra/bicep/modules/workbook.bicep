// The operations view in Azure Monitor: the platform's own metrics (services/metrics.py)
// as the Application Insights resource receives them (custom metrics, docs/azure.md).
// The workbook's queries live in operations-workbook.json, which tests/infra reads too.
param location string
param tags object
param displayName string
param appInsightsId string

resource operations 'Microsoft.Insights/workbooks@2023-06-01' = {
  // Workbooks are named by a GUID; the same one on every deployment updates it in place.
  name: guid(resourceGroup().id, appInsightsId, 'operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: loadTextContent('operations-workbook.json')
  }
}
