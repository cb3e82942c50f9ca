// What someone is woken for: a rising error rate, failing generations, a provider's open
// circuit, a queue's oldest message waiting too long (or its measurement gone quiet), a
// projection lagging the log, dead-lettered messages (a step failing systematically,
// docs/azure.md) and the Azure spend of this environment.
param location string
param tags object
param actionGroupName string
@maxLength(12)
param actionGroupShortName string
param alertPrefix string
param budgetName string
param alertEmails array
param appInsightsId string
param serviceBusNamespaceId string
@minValue(1)
@maxValue(100)
param errorRatePercent int
@minValue(60)
param queueAgeSeconds int
@minValue(60)
param projectionLagSeconds int
@minValue(1)
param monthlyBudget int
@minLength(3)
@maxLength(3)
param budgetThresholds array
param budgetStartDate string

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    emailReceivers: [for (email, i) in alertEmails: {
      name: 'email-${i}'
      emailAddress: email
      useCommonAlertSchema: true
    }]
  }
}

// Failed requests as a share of all requests: a count alone would fire on busy days.
resource errorRate 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${alertPrefix}-error-rate'
  location: location
  tags: tags
  properties: {
    displayName: 'API error rate above ${errorRatePercent}%'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'requests | summarize total = count(), failed = countif(success == false) | where total >= 20 | extend ratePercent = 100.0 * failed / total | project ratePercent'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'ratePercent'
          operator: 'GreaterThan'
          threshold: errorRatePercent
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// The platform's own metrics (services/metrics.py), sent by the Azure Monitor distro as
// custom metrics: generations failed as a share of those settled.
resource generationFailures 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${alertPrefix}-generation-failures'
  location: location
  tags: tags
  properties: {
    displayName: 'Generations failing above ${errorRatePercent}%'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "donatello_generations" | extend status = tostring(customDimensions.status) | summarize total = sum(valueSum), failed = sumif(valueSum, status == "failed") | where total >= 10 | extend ratePercent = 100.0 * failed / total | project ratePercent'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'ratePercent'
          operator: 'GreaterThan'
          threshold: errorRatePercent
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// A provider whose circuit is open (2) as last read by any worker, per provider.
resource openCircuit 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${alertPrefix}-open-circuit'
  location: location
  tags: tags
  properties: {
    displayName: 'A provider circuit is open'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "donatello_provider_circuit_state" | extend provider = tostring(customDimensions.provider) | summarize state = max(valueMax) by provider'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'state'
          dimensions: [
            {
              name: 'provider'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThanOrEqual'
          threshold: 2
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// The oldest unsettled message of a work queue, per queue, as the timer function
// `measure_queue_ages` peeks it every minute (Service Bus has no such metric itself).
resource queueAge 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${alertPrefix}-queue-age'
  location: location
  tags: tags
  properties: {
    displayName: 'A queue\'s oldest message is over ${queueAgeSeconds} s old'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "donatello_queue_oldest_message_age_seconds" | extend queue = tostring(customDimensions.queue) | summarize age = max(valueMax) by queue'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'age'
          dimensions: [
            {
              name: 'queue'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: queueAgeSeconds
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// The queue-age alert cannot fire on measurements that stopped: the timer answers every
// minute, so a quarter of an hour without one means it is not running.
resource queueAgeSilent 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${alertPrefix}-queue-age-silent'
  location: location
  tags: tags
  properties: {
    displayName: 'No queue age measured for 15 minutes'
    severity: 3
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "donatello_queue_oldest_message_age_seconds" | summarize samples = count()'
          timeAggregation: 'Total'
          metricMeasureColumn: 'samples'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// How old the oldest event of a change-feed batch was when its projection got it, per
// projection (functions/projector.py). An idle feed sends nothing, and fires nothing.
resource projectionLag 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${alertPrefix}-projection-lag'
  location: location
  tags: tags
  properties: {
    displayName: 'A projection lags the event log by over ${projectionLagSeconds} s'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "donatello_projection_lag_seconds" | extend projection = tostring(customDimensions.projection) | summarize lag = max(valueMax) by projection'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'lag'
          dimensions: [
            {
              name: 'projection'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: projectionLagSeconds
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// Any dead-lettered message, per queue: the count should stay at zero.
resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${alertPrefix}-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'Messages in a Service Bus dead-letter queue'
    severity: 2
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-lettered'
          metricName: 'DeadletteredMessages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

var notify = {
  enabled: true
  operator: 'GreaterThanOrEqualTo'
  contactEmails: alertEmails
  contactGroups: [
    actionGroup.id
  ]
}

// Azure's bill for this resource group; departments' image budgets are the app's own.
// Budgets carry no tags (the resource type has none).
resource budget 'Microsoft.Consumption/budgets@2023-05-01' = {
  name: budgetName
  properties: {
    category: 'Cost'
    amount: monthlyBudget
    timeGrain: 'Monthly'
    timePeriod: {
      startDate: budgetStartDate
    }
    // Three thresholds on actual spend, and one when the forecast says the month will end
    // over budget.
    notifications: {
      'actual-1': union(notify, {
        threshold: budgetThresholds[0]
        thresholdType: 'Actual'
      })
      'actual-2': union(notify, {
        threshold: budgetThresholds[1]
        thresholdType: 'Actual'
      })
      'actual-3': union(notify, {
        threshold: budgetThresholds[2]
        thresholdType: 'Actual'
      })
      'forecast-100': union(notify, {
        threshold: 100
        thresholdType: 'Forecasted'
      })
    }
  }
}
