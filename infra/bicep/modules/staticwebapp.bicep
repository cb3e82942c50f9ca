// The console: the built single-page app (web/dist) on Azure Static Web Apps. It holds no
// data (it is the same files for everyone); what it shows comes from the Function App,
// which answers only this origin's cross-origin calls (functionapp.bicep's CORS). The
// security headers ship in staticwebapp.config.json, written at deploy time
// (web/scripts/azure-config.mjs, docs/deploy.md).
param location string
param tags object
param siteName string
@allowed([
  'Free'
  'Standard'
])
param siteSku string

resource site 'Microsoft.Web/staticSites@2024-04-01' = {
  name: siteName
  location: location
  tags: union(tags, {
    'azd-service-name': 'web'
  })
  sku: {
    name: siteSku
    tier: siteSku
  }
  properties: {
    // azd uploads the built files; no repository is linked and no pull-request previews
    // (each would be another origin the API does not answer).
    provider: 'None'
    stagingEnvironmentPolicy: 'Disabled'
    allowConfigFileUpdates: true
    publicNetworkAccess: 'Enabled'
  }
}

output origin string = 'https://${site.properties.defaultHostname}'
