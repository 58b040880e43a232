// The schema tables: the Kubernetes messages kelp decodes from protobuf, leaves first. Field
// numbers and JSON names follow the published k8s.io/api generated.proto files; the presence
// of each scalar follows its Go type (pointer or `omitempty` value, see Presence). Fields kelp
// does not list here are skipped by the decoder, as protobuf does with unknown fields.
#include "api/protobuf_schema.h"

namespace kelp::api {
namespace {

constexpr Presence kKeep = Presence::kKeepZero;
constexpr FieldKind kStringList = FieldKind::kStringList;
constexpr FieldKind kStringMap = FieldKind::kStringMap;
constexpr FieldKind kBytesMap = FieldKind::kBytesMap;
constexpr FieldKind kQuantityMap = FieldKind::kQuantityMap;
constexpr FieldKind kTime = FieldKind::kTime;
constexpr FieldKind kQuantity = FieldKind::kQuantity;
constexpr FieldKind kIntOrString = FieldKind::kIntOrString;

// ---- meta/v1 ----

constexpr FieldSpec kOwnerReferenceFields[] = {
    StringField(5, "apiVersion", kKeep), StringField(1, "kind", kKeep),
    StringField(3, "name", kKeep),       StringField(4, "uid", kKeep),
    BoolField(6, "controller", kKeep),   BoolField(7, "blockOwnerDeletion", kKeep),
};
constexpr MessageSchema kOwnerReference{"OwnerReference", kOwnerReferenceFields};

constexpr FieldSpec kObjectMetaFields[] = {
    StringField(1, "name"),
    StringField(2, "generateName"),
    StringField(3, "namespace"),
    StringField(4, "selfLink"),
    StringField(5, "uid"),
    StringField(6, "resourceVersion"),
    Int64Field(7, "generation"),
    OtherField(8, "creationTimestamp", kTime),
    OtherField(9, "deletionTimestamp", kTime),
    Int64Field(10, "deletionGracePeriodSeconds", kKeep),
    OtherField(11, "labels", kStringMap),
    OtherField(12, "annotations", kStringMap),
    MessageListField(13, "ownerReferences", kOwnerReference),
    OtherField(14, "finalizers", kStringList),
};
constexpr MessageSchema kObjectMeta{"ObjectMeta", kObjectMetaFields};

constexpr FieldSpec kLabelSelectorRequirementFields[] = {
    StringField(1, "key", kKeep),
    StringField(2, "operator", kKeep),
    OtherField(3, "values", kStringList),
};
constexpr MessageSchema kLabelSelectorRequirement{"LabelSelectorRequirement",
                                                  kLabelSelectorRequirementFields};

constexpr FieldSpec kLabelSelectorFields[] = {
    OtherField(1, "matchLabels", kStringMap),
    MessageListField(2, "matchExpressions", kLabelSelectorRequirement),
};
constexpr MessageSchema kLabelSelector{"LabelSelector", kLabelSelectorFields};

// ---- core/v1: namespaces ----

constexpr FieldSpec kNamespaceConditionFields[] = {
    StringField(1, "type", kKeep),     StringField(2, "status", kKeep),
    OtherField(4, "lastTransitionTime", kTime),
    StringField(5, "reason"),          StringField(6, "message"),
};
constexpr MessageSchema kNamespaceCondition{"NamespaceCondition", kNamespaceConditionFields};

constexpr FieldSpec kNamespaceSpecFields[] = {OtherField(1, "finalizers", kStringList)};
constexpr MessageSchema kNamespaceSpec{"NamespaceSpec", kNamespaceSpecFields};

constexpr FieldSpec kNamespaceStatusFields[] = {
    StringField(1, "phase"),
    MessageListField(2, "conditions", kNamespaceCondition),
};
constexpr MessageSchema kNamespaceStatus{"NamespaceStatus", kNamespaceStatusFields};

constexpr FieldSpec kNamespaceFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kNamespaceSpec),
    MessageField(3, "status", kNamespaceStatus),
};
constexpr MessageSchema kNamespace{"Namespace", kNamespaceFields};

// ---- core/v1: containers ----

constexpr FieldSpec kLocalObjectReferenceFields[] = {StringField(1, "name")};
constexpr MessageSchema kLocalObjectReference{"LocalObjectReference",
                                              kLocalObjectReferenceFields};

constexpr FieldSpec kContainerPortFields[] = {
    StringField(1, "name"),           Int32Field(2, "hostPort"),
    Int32Field(3, "containerPort", kKeep), StringField(4, "protocol"),
    StringField(5, "hostIP"),
};
constexpr MessageSchema kContainerPort{"ContainerPort", kContainerPortFields};

constexpr FieldSpec kObjectFieldSelectorFields[] = {
    StringField(1, "apiVersion"),
    StringField(2, "fieldPath", kKeep),
};
constexpr MessageSchema kObjectFieldSelector{"ObjectFieldSelector", kObjectFieldSelectorFields};

constexpr FieldSpec kResourceFieldSelectorFields[] = {
    StringField(1, "containerName"),
    StringField(2, "resource", kKeep),
    OtherField(3, "divisor", kQuantity),
};
constexpr MessageSchema kResourceFieldSelector{"ResourceFieldSelector",
                                               kResourceFieldSelectorFields};

// ConfigMapKeySelector and SecretKeySelector share their layout.
constexpr FieldSpec kKeySelectorFields[] = {
    InlineField(1, "localObjectReference", kLocalObjectReference),
    StringField(2, "key", kKeep),
    BoolField(3, "optional", kKeep),
};
constexpr MessageSchema kKeySelector{"KeySelector", kKeySelectorFields};

constexpr FieldSpec kEnvVarSourceFields[] = {
    MessageField(1, "fieldRef", kObjectFieldSelector),
    MessageField(2, "resourceFieldRef", kResourceFieldSelector),
    MessageField(3, "configMapKeyRef", kKeySelector),
    MessageField(4, "secretKeyRef", kKeySelector),
};
constexpr MessageSchema kEnvVarSource{"EnvVarSource", kEnvVarSourceFields};

constexpr FieldSpec kEnvVarFields[] = {
    StringField(1, "name", kKeep),
    StringField(2, "value"),
    MessageField(3, "valueFrom", kEnvVarSource),
};
constexpr MessageSchema kEnvVar{"EnvVar", kEnvVarFields};

// ConfigMapEnvSource and SecretEnvSource share their layout.
constexpr FieldSpec kEnvSourceFields[] = {
    InlineField(1, "localObjectReference", kLocalObjectReference),
    BoolField(2, "optional", kKeep),
};
constexpr MessageSchema kEnvSource{"EnvSource", kEnvSourceFields};

constexpr FieldSpec kEnvFromSourceFields[] = {
    StringField(1, "prefix"),
    MessageField(2, "configMapRef", kEnvSource),
    MessageField(3, "secretRef", kEnvSource),
};
constexpr MessageSchema kEnvFromSource{"EnvFromSource", kEnvFromSourceFields};

constexpr FieldSpec kResourceClaimFields[] = {
    StringField(1, "name", kKeep),
    StringField(2, "request"),
};
constexpr MessageSchema kResourceClaim{"ResourceClaim", kResourceClaimFields};

constexpr FieldSpec kResourceRequirementsFields[] = {
    OtherField(1, "limits", kQuantityMap),
    OtherField(2, "requests", kQuantityMap),
    MessageListField(3, "claims", kResourceClaim),
};
constexpr MessageSchema kResourceRequirements{"ResourceRequirements",
                                              kResourceRequirementsFields};

constexpr FieldSpec kVolumeMountFields[] = {
    StringField(1, "name", kKeep),
    BoolField(2, "readOnly"),
    StringField(7, "recursiveReadOnly", kKeep),
    StringField(3, "mountPath", kKeep),
    StringField(4, "subPath"),
    StringField(5, "mountPropagation", kKeep),
    StringField(6, "subPathExpr"),
};
constexpr MessageSchema kVolumeMount{"VolumeMount", kVolumeMountFields};

constexpr FieldSpec kExecActionFields[] = {OtherField(1, "command", kStringList)};
constexpr MessageSchema kExecAction{"ExecAction", kExecActionFields};

constexpr FieldSpec kHttpHeaderFields[] = {
    StringField(1, "name", kKeep),
    StringField(2, "value", kKeep),
};
constexpr MessageSchema kHttpHeader{"HTTPHeader", kHttpHeaderFields};

constexpr FieldSpec kHttpGetActionFields[] = {
    StringField(1, "path"),
    OtherField(2, "port", kIntOrString),
    StringField(3, "host"),
    StringField(4, "scheme"),
    MessageListField(5, "httpHeaders", kHttpHeader),
};
constexpr MessageSchema kHttpGetAction{"HTTPGetAction", kHttpGetActionFields};

constexpr FieldSpec kTcpSocketActionFields[] = {
    OtherField(1, "port", kIntOrString),
    StringField(2, "host"),
};
constexpr MessageSchema kTcpSocketAction{"TCPSocketAction", kTcpSocketActionFields};

constexpr FieldSpec kGrpcActionFields[] = {
    Int32Field(1, "port", kKeep),
    StringField(2, "service", kKeep),
};
constexpr MessageSchema kGrpcAction{"GRPCAction", kGrpcActionFields};

constexpr FieldSpec kProbeHandlerFields[] = {
    MessageField(1, "exec", kExecAction),
    MessageField(2, "httpGet", kHttpGetAction),
    MessageField(3, "tcpSocket", kTcpSocketAction),
    MessageField(4, "grpc", kGrpcAction),
};
constexpr MessageSchema kProbeHandler{"ProbeHandler", kProbeHandlerFields};

constexpr FieldSpec kProbeFields[] = {
    InlineField(1, "handler", kProbeHandler),
    Int32Field(2, "initialDelaySeconds"),
    Int32Field(3, "timeoutSeconds"),
    Int32Field(4, "periodSeconds"),
    Int32Field(5, "successThreshold"),
    Int32Field(6, "failureThreshold"),
    Int64Field(7, "terminationGracePeriodSeconds", kKeep),
};
constexpr MessageSchema kProbe{"Probe", kProbeFields};

constexpr FieldSpec kLifecycleHandlerFields[] = {
    MessageField(1, "exec", kExecAction),
    MessageField(2, "httpGet", kHttpGetAction),
    MessageField(3, "tcpSocket", kTcpSocketAction),
};
constexpr MessageSchema kLifecycleHandler{"LifecycleHandler", kLifecycleHandlerFields};

constexpr FieldSpec kLifecycleFields[] = {
    MessageField(1, "postStart", kLifecycleHandler),
    MessageField(2, "preStop", kLifecycleHandler),
};
constexpr MessageSchema kLifecycle{"Lifecycle", kLifecycleFields};

constexpr FieldSpec kCapabilitiesFields[] = {
    OtherField(1, "add", kStringList),
    OtherField(2, "drop", kStringList),
};
constexpr MessageSchema kCapabilities{"Capabilities", kCapabilitiesFields};

constexpr FieldSpec kSeccompProfileFields[] = {
    StringField(1, "type", kKeep),
    StringField(2, "localhostProfile", kKeep),
};
constexpr MessageSchema kSeccompProfile{"SeccompProfile", kSeccompProfileFields};

constexpr FieldSpec kSecurityContextFields[] = {
    MessageField(1, "capabilities", kCapabilities),
    BoolField(2, "privileged", kKeep),
    Int64Field(4, "runAsUser", kKeep),
    Int64Field(8, "runAsGroup", kKeep),
    BoolField(5, "runAsNonRoot", kKeep),
    BoolField(6, "readOnlyRootFilesystem", kKeep),
    BoolField(7, "allowPrivilegeEscalation", kKeep),
    StringField(9, "procMount", kKeep),
    MessageField(11, "seccompProfile", kSeccompProfile),
};
constexpr MessageSchema kSecurityContext{"SecurityContext", kSecurityContextFields};

constexpr FieldSpec kContainerFields[] = {
    StringField(1, "name", kKeep),
    StringField(2, "image"),
    OtherField(3, "command", kStringList),
    OtherField(4, "args", kStringList),
    StringField(5, "workingDir"),
    MessageListField(6, "ports", kContainerPort),
    MessageListField(19, "envFrom", kEnvFromSource),
    MessageListField(7, "env", kEnvVar),
    MessageField(8, "resources", kResourceRequirements),
    StringField(24, "restartPolicy", kKeep),
    MessageListField(9, "volumeMounts", kVolumeMount),
    MessageField(10, "livenessProbe", kProbe),
    MessageField(11, "readinessProbe", kProbe),
    MessageField(22, "startupProbe", kProbe),
    MessageField(12, "lifecycle", kLifecycle),
    StringField(13, "terminationMessagePath"),
    StringField(20, "terminationMessagePolicy"),
    StringField(14, "imagePullPolicy"),
    MessageField(15, "securityContext", kSecurityContext),
    BoolField(16, "stdin"),
    BoolField(17, "stdinOnce"),
    BoolField(18, "tty"),
};
constexpr MessageSchema kContainer{"Container", kContainerFields};

// ---- core/v1: volumes ----

constexpr FieldSpec kHostPathVolumeSourceFields[] = {
    StringField(1, "path", kKeep),
    StringField(2, "type", kKeep),
};
constexpr MessageSchema kHostPathVolumeSource{"HostPathVolumeSource",
                                              kHostPathVolumeSourceFields};

constexpr FieldSpec kEmptyDirVolumeSourceFields[] = {
    StringField(1, "medium"),
    OtherField(2, "sizeLimit", kQuantity),
};
constexpr MessageSchema kEmptyDirVolumeSource{"EmptyDirVolumeSource",
                                              kEmptyDirVolumeSourceFields};

constexpr FieldSpec kKeyToPathFields[] = {
    StringField(1, "key", kKeep),
    StringField(2, "path", kKeep),
    Int32Field(3, "mode", kKeep),
};
constexpr MessageSchema kKeyToPath{"KeyToPath", kKeyToPathFields};

constexpr FieldSpec kSecretVolumeSourceFields[] = {
    StringField(1, "secretName"),
    MessageListField(2, "items", kKeyToPath),
    Int32Field(3, "defaultMode", kKeep),
    BoolField(4, "optional", kKeep),
};
constexpr MessageSchema kSecretVolumeSource{"SecretVolumeSource", kSecretVolumeSourceFields};

constexpr FieldSpec kConfigMapVolumeSourceFields[] = {
    InlineField(1, "localObjectReference", kLocalObjectReference),
    MessageListField(2, "items", kKeyToPath),
    Int32Field(3, "defaultMode", kKeep),
    BoolField(4, "optional", kKeep),
};
constexpr MessageSchema kConfigMapVolumeSource{"ConfigMapVolumeSource",
                                               kConfigMapVolumeSourceFields};

constexpr FieldSpec kPersistentVolumeClaimVolumeSourceFields[] = {
    StringField(1, "claimName", kKeep),
    BoolField(2, "readOnly"),
};
constexpr MessageSchema kPersistentVolumeClaimVolumeSource{
    "PersistentVolumeClaimVolumeSource", kPersistentVolumeClaimVolumeSourceFields};

constexpr FieldSpec kVolumeSourceFields[] = {
    MessageField(1, "hostPath", kHostPathVolumeSource),
    MessageField(2, "emptyDir", kEmptyDirVolumeSource),
    MessageField(6, "secret", kSecretVolumeSource),
    MessageField(10, "persistentVolumeClaim", kPersistentVolumeClaimVolumeSource),
    MessageField(19, "configMap", kConfigMapVolumeSource),
};
constexpr MessageSchema kVolumeSource{"VolumeSource", kVolumeSourceFields};

constexpr FieldSpec kVolumeFields[] = {
    StringField(1, "name", kKeep),
    InlineField(2, "volumeSource", kVolumeSource),
};
constexpr MessageSchema kVolume{"Volume", kVolumeFields};

// ---- core/v1: pods ----

constexpr FieldSpec kTolerationFields[] = {
    StringField(1, "key"),    StringField(2, "operator"), StringField(3, "value"),
    StringField(4, "effect"), Int64Field(5, "tolerationSeconds", kKeep),
};
constexpr MessageSchema kToleration{"Toleration", kTolerationFields};

constexpr FieldSpec kPodSecurityContextFields[] = {
    Int64Field(2, "runAsUser", kKeep),
    Int64Field(6, "runAsGroup", kKeep),
    BoolField(3, "runAsNonRoot", kKeep),
    Int64Field(5, "fsGroup", kKeep),
    StringField(9, "fsGroupChangePolicy", kKeep),
    MessageField(10, "seccompProfile", kSeccompProfile),
};
constexpr MessageSchema kPodSecurityContext{"PodSecurityContext", kPodSecurityContextFields};

constexpr FieldSpec kPodSpecFields[] = {
    MessageListField(1, "volumes", kVolume),
    MessageListField(20, "initContainers", kContainer),
    MessageListField(2, "containers", kContainer),
    StringField(3, "restartPolicy"),
    Int64Field(4, "terminationGracePeriodSeconds", kKeep),
    Int64Field(5, "activeDeadlineSeconds", kKeep),
    StringField(6, "dnsPolicy"),
    OtherField(7, "nodeSelector", kStringMap),
    StringField(8, "serviceAccountName"),
    StringField(9, "serviceAccount"),
    BoolField(21, "automountServiceAccountToken", kKeep),
    StringField(10, "nodeName"),
    BoolField(11, "hostNetwork"),
    BoolField(12, "hostPID"),
    BoolField(13, "hostIPC"),
    BoolField(27, "shareProcessNamespace", kKeep),
    MessageField(14, "securityContext", kPodSecurityContext),
    MessageListField(15, "imagePullSecrets", kLocalObjectReference),
    StringField(16, "hostname"),
    StringField(17, "subdomain"),
    StringField(19, "schedulerName"),
    MessageListField(22, "tolerations", kToleration),
    StringField(24, "priorityClassName"),
    Int32Field(25, "priority", kKeep),
    StringField(29, "runtimeClassName", kKeep),
    BoolField(30, "enableServiceLinks", kKeep),
    StringField(31, "preemptionPolicy", kKeep),
    BoolField(35, "setHostnameAsFQDN", kKeep),
    BoolField(37, "hostUsers", kKeep),
};
constexpr MessageSchema kPodSpec{"PodSpec", kPodSpecFields};

constexpr FieldSpec kPodTemplateSpecFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kPodSpec),
};
constexpr MessageSchema kPodTemplateSpec{"PodTemplateSpec", kPodTemplateSpecFields};

// Clients do not write pod status; the scalar fields are kept for completeness of a round trip.
constexpr FieldSpec kPodStatusFields[] = {
    StringField(1, "phase"),    StringField(3, "message"),
    StringField(4, "reason"),   StringField(11, "nominatedNodeName"),
    StringField(5, "hostIP"),   StringField(6, "podIP"),
    OtherField(7, "startTime", kTime),
    StringField(9, "qosClass"),
};
constexpr MessageSchema kPodStatus{"PodStatus", kPodStatusFields};

constexpr FieldSpec kPodFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kPodSpec),
    MessageField(3, "status", kPodStatus),
};
constexpr MessageSchema kPod{"Pod", kPodFields};

// ---- core/v1: services, config maps, secrets ----

constexpr FieldSpec kServicePortFields[] = {
    StringField(1, "name"),
    StringField(2, "protocol"),
    StringField(6, "appProtocol", kKeep),
    Int32Field(3, "port", kKeep),
    OtherField(4, "targetPort", kIntOrString),
    Int32Field(5, "nodePort"),
};
constexpr MessageSchema kServicePort{"ServicePort", kServicePortFields};

constexpr FieldSpec kServiceSpecFields[] = {
    MessageListField(1, "ports", kServicePort),
    OtherField(2, "selector", kStringMap),
    StringField(3, "clusterIP"),
    OtherField(18, "clusterIPs", kStringList),
    StringField(4, "type"),
    OtherField(5, "externalIPs", kStringList),
    StringField(7, "sessionAffinity"),
    StringField(8, "loadBalancerIP"),
    OtherField(9, "loadBalancerSourceRanges", kStringList),
    StringField(10, "externalName"),
    StringField(11, "externalTrafficPolicy"),
    Int32Field(12, "healthCheckNodePort"),
    BoolField(13, "publishNotReadyAddresses"),
    OtherField(19, "ipFamilies", kStringList),
    StringField(17, "ipFamilyPolicy", kKeep),
    BoolField(20, "allocateLoadBalancerNodePorts", kKeep),
    StringField(21, "loadBalancerClass", kKeep),
    StringField(22, "internalTrafficPolicy", kKeep),
    StringField(23, "trafficDistribution", kKeep),
};
constexpr MessageSchema kServiceSpec{"ServiceSpec", kServiceSpecFields};

constexpr FieldSpec kLoadBalancerIngressFields[] = {
    StringField(1, "ip"),
    StringField(2, "hostname"),
    StringField(3, "ipMode", kKeep),
};
constexpr MessageSchema kLoadBalancerIngress{"LoadBalancerIngress", kLoadBalancerIngressFields};

constexpr FieldSpec kLoadBalancerStatusFields[] = {
    MessageListField(1, "ingress", kLoadBalancerIngress),
};
constexpr MessageSchema kLoadBalancerStatus{"LoadBalancerStatus", kLoadBalancerStatusFields};

constexpr FieldSpec kServiceStatusFields[] = {
    MessageField(1, "loadBalancer", kLoadBalancerStatus),
};
constexpr MessageSchema kServiceStatus{"ServiceStatus", kServiceStatusFields};

constexpr FieldSpec kServiceFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kServiceSpec),
    MessageField(3, "status", kServiceStatus),
};
constexpr MessageSchema kService{"Service", kServiceFields};

constexpr FieldSpec kConfigMapFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    BoolField(4, "immutable", kKeep),
    OtherField(2, "data", kStringMap),
    OtherField(3, "binaryData", kBytesMap),
};
constexpr MessageSchema kConfigMap{"ConfigMap", kConfigMapFields};

constexpr FieldSpec kSecretFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    BoolField(5, "immutable", kKeep),
    OtherField(2, "data", kBytesMap),
    OtherField(4, "stringData", kStringMap),
    StringField(3, "type"),
};
constexpr MessageSchema kSecret{"Secret", kSecretFields};

// ---- apps/v1 ----

constexpr FieldSpec kRollingUpdateDeploymentFields[] = {
    OtherField(1, "maxUnavailable", kIntOrString),
    OtherField(2, "maxSurge", kIntOrString),
};
constexpr MessageSchema kRollingUpdateDeployment{"RollingUpdateDeployment",
                                                 kRollingUpdateDeploymentFields};

constexpr FieldSpec kDeploymentStrategyFields[] = {
    StringField(1, "type"),
    MessageField(2, "rollingUpdate", kRollingUpdateDeployment),
};
constexpr MessageSchema kDeploymentStrategy{"DeploymentStrategy", kDeploymentStrategyFields};

constexpr FieldSpec kDeploymentSpecFields[] = {
    Int32Field(1, "replicas", kKeep),
    MessageField(2, "selector", kLabelSelector),
    MessageField(3, "template", kPodTemplateSpec),
    MessageField(4, "strategy", kDeploymentStrategy),
    Int32Field(5, "minReadySeconds"),
    Int32Field(6, "revisionHistoryLimit", kKeep),
    BoolField(7, "paused"),
    Int32Field(9, "progressDeadlineSeconds", kKeep),
};
constexpr MessageSchema kDeploymentSpec{"DeploymentSpec", kDeploymentSpecFields};

constexpr FieldSpec kDeploymentConditionFields[] = {
    StringField(1, "type", kKeep),
    StringField(2, "status", kKeep),
    OtherField(6, "lastUpdateTime", kTime),
    OtherField(7, "lastTransitionTime", kTime),
    StringField(4, "reason"),
    StringField(5, "message"),
};
constexpr MessageSchema kDeploymentCondition{"DeploymentCondition", kDeploymentConditionFields};

constexpr FieldSpec kDeploymentStatusFields[] = {
    Int64Field(1, "observedGeneration"),
    Int32Field(2, "replicas"),
    Int32Field(3, "updatedReplicas"),
    Int32Field(7, "readyReplicas"),
    Int32Field(4, "availableReplicas"),
    Int32Field(5, "unavailableReplicas"),
    MessageListField(6, "conditions", kDeploymentCondition),
    Int32Field(8, "collisionCount", kKeep),
};
constexpr MessageSchema kDeploymentStatus{"DeploymentStatus", kDeploymentStatusFields};

constexpr FieldSpec kDeploymentFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kDeploymentSpec),
    MessageField(3, "status", kDeploymentStatus),
};
constexpr MessageSchema kDeployment{"Deployment", kDeploymentFields};

constexpr FieldSpec kReplicaSetSpecFields[] = {
    Int32Field(1, "replicas", kKeep),
    Int32Field(4, "minReadySeconds"),
    MessageField(2, "selector", kLabelSelector),
    MessageField(3, "template", kPodTemplateSpec),
};
constexpr MessageSchema kReplicaSetSpec{"ReplicaSetSpec", kReplicaSetSpecFields};

// ReplicaSetCondition, HorizontalPodAutoscalerCondition (autoscaling/v2) share this layout.
constexpr FieldSpec kTransitionConditionFields[] = {
    StringField(1, "type", kKeep),
    StringField(2, "status", kKeep),
    OtherField(3, "lastTransitionTime", kTime),
    StringField(4, "reason"),
    StringField(5, "message"),
};
constexpr MessageSchema kTransitionCondition{"Condition", kTransitionConditionFields};

constexpr FieldSpec kReplicaSetStatusFields[] = {
    Int32Field(1, "replicas", kKeep),
    Int32Field(2, "fullyLabeledReplicas"),
    Int32Field(4, "readyReplicas"),
    Int32Field(5, "availableReplicas"),
    Int64Field(3, "observedGeneration"),
    MessageListField(6, "conditions", kTransitionCondition),
};
constexpr MessageSchema kReplicaSetStatus{"ReplicaSetStatus", kReplicaSetStatusFields};

constexpr FieldSpec kReplicaSetFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kReplicaSetSpec),
    MessageField(3, "status", kReplicaSetStatus),
};
constexpr MessageSchema kReplicaSet{"ReplicaSet", kReplicaSetFields};

// ---- autoscaling/v1 ----

constexpr FieldSpec kCrossVersionObjectReferenceFields[] = {
    StringField(1, "kind", kKeep),
    StringField(2, "name", kKeep),
    StringField(3, "apiVersion"),
};
constexpr MessageSchema kCrossVersionObjectReference{"CrossVersionObjectReference",
                                                     kCrossVersionObjectReferenceFields};

constexpr FieldSpec kHpaV1SpecFields[] = {
    MessageField(1, "scaleTargetRef", kCrossVersionObjectReference),
    Int32Field(2, "minReplicas", kKeep),
    Int32Field(3, "maxReplicas", kKeep),
    Int32Field(4, "targetCPUUtilizationPercentage", kKeep),
};
constexpr MessageSchema kHpaV1Spec{"HorizontalPodAutoscalerSpec", kHpaV1SpecFields};

constexpr FieldSpec kHpaV1StatusFields[] = {
    Int64Field(1, "observedGeneration", kKeep),
    OtherField(2, "lastScaleTime", kTime),
    Int32Field(3, "currentReplicas", kKeep),
    Int32Field(4, "desiredReplicas", kKeep),
    Int32Field(5, "currentCPUUtilizationPercentage", kKeep),
};
constexpr MessageSchema kHpaV1Status{"HorizontalPodAutoscalerStatus", kHpaV1StatusFields};

constexpr FieldSpec kHpaV1Fields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kHpaV1Spec),
    MessageField(3, "status", kHpaV1Status),
};
constexpr MessageSchema kHpaV1{"HorizontalPodAutoscaler", kHpaV1Fields};

// ---- autoscaling/v2 ----

constexpr FieldSpec kMetricTargetFields[] = {
    StringField(1, "type", kKeep),
    OtherField(2, "value", kQuantity),
    OtherField(3, "averageValue", kQuantity),
    Int32Field(4, "averageUtilization", kKeep),
};
constexpr MessageSchema kMetricTarget{"MetricTarget", kMetricTargetFields};

constexpr FieldSpec kMetricIdentifierFields[] = {
    StringField(1, "name", kKeep),
    MessageField(2, "selector", kLabelSelector),
};
constexpr MessageSchema kMetricIdentifier{"MetricIdentifier", kMetricIdentifierFields};

constexpr FieldSpec kObjectMetricSourceFields[] = {
    MessageField(1, "describedObject", kCrossVersionObjectReference),
    MessageField(2, "target", kMetricTarget),
    MessageField(3, "metric", kMetricIdentifier),
};
constexpr MessageSchema kObjectMetricSource{"ObjectMetricSource", kObjectMetricSourceFields};

// PodsMetricSource and ExternalMetricSource share this layout.
constexpr FieldSpec kIdentifiedMetricSourceFields[] = {
    MessageField(1, "metric", kMetricIdentifier),
    MessageField(2, "target", kMetricTarget),
};
constexpr MessageSchema kIdentifiedMetricSource{"MetricSource", kIdentifiedMetricSourceFields};

constexpr FieldSpec kResourceMetricSourceFields[] = {
    StringField(1, "name", kKeep),
    MessageField(2, "target", kMetricTarget),
};
constexpr MessageSchema kResourceMetricSource{"ResourceMetricSource",
                                              kResourceMetricSourceFields};

constexpr FieldSpec kContainerResourceMetricSourceFields[] = {
    StringField(1, "name", kKeep),
    MessageField(2, "target", kMetricTarget),
    StringField(3, "container", kKeep),
};
constexpr MessageSchema kContainerResourceMetricSource{"ContainerResourceMetricSource",
                                                       kContainerResourceMetricSourceFields};

constexpr FieldSpec kMetricSpecFields[] = {
    StringField(1, "type", kKeep),
    MessageField(2, "object", kObjectMetricSource),
    MessageField(3, "pods", kIdentifiedMetricSource),
    MessageField(4, "resource", kResourceMetricSource),
    MessageField(7, "containerResource", kContainerResourceMetricSource),
    MessageField(5, "external", kIdentifiedMetricSource),
};
constexpr MessageSchema kMetricSpec{"MetricSpec", kMetricSpecFields};

constexpr FieldSpec kHpaScalingPolicyFields[] = {
    StringField(1, "type", kKeep),
    Int32Field(2, "value", kKeep),
    Int32Field(3, "periodSeconds", kKeep),
};
constexpr MessageSchema kHpaScalingPolicy{"HPAScalingPolicy", kHpaScalingPolicyFields};

constexpr FieldSpec kHpaScalingRulesFields[] = {
    Int32Field(3, "stabilizationWindowSeconds", kKeep),
    StringField(1, "selectPolicy", kKeep),
    MessageListField(2, "policies", kHpaScalingPolicy),
};
constexpr MessageSchema kHpaScalingRules{"HPAScalingRules", kHpaScalingRulesFields};

constexpr FieldSpec kHpaBehaviorFields[] = {
    MessageField(1, "scaleUp", kHpaScalingRules),
    MessageField(2, "scaleDown", kHpaScalingRules),
};
constexpr MessageSchema kHpaBehavior{"HorizontalPodAutoscalerBehavior", kHpaBehaviorFields};

constexpr FieldSpec kHpaV2SpecFields[] = {
    MessageField(1, "scaleTargetRef", kCrossVersionObjectReference),
    Int32Field(2, "minReplicas", kKeep),
    Int32Field(3, "maxReplicas", kKeep),
    MessageListField(4, "metrics", kMetricSpec),
    MessageField(5, "behavior", kHpaBehavior),
};
constexpr MessageSchema kHpaV2Spec{"HorizontalPodAutoscalerSpec", kHpaV2SpecFields};

// Metric statuses are written by the controller, never by clients; they are skipped.
constexpr FieldSpec kHpaV2StatusFields[] = {
    Int64Field(1, "observedGeneration", kKeep),
    OtherField(2, "lastScaleTime", kTime),
    Int32Field(3, "currentReplicas"),
    Int32Field(4, "desiredReplicas", kKeep),
    MessageListField(6, "conditions", kTransitionCondition),
};
constexpr MessageSchema kHpaV2Status{"HorizontalPodAutoscalerStatus", kHpaV2StatusFields};

constexpr FieldSpec kHpaV2Fields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kHpaV2Spec),
    MessageField(3, "status", kHpaV2Status),
};
constexpr MessageSchema kHpaV2{"HorizontalPodAutoscaler", kHpaV2Fields};

// ---- core/v1: object references, service accounts, endpoints, events ----

constexpr FieldSpec kObjectReferenceFields[] = {
    StringField(1, "kind"),       StringField(2, "namespace"),
    StringField(3, "name"),       StringField(4, "uid"),
    StringField(5, "apiVersion"), StringField(6, "resourceVersion"),
    StringField(7, "fieldPath"),
};
constexpr MessageSchema kObjectReference{"ObjectReference", kObjectReferenceFields};

constexpr FieldSpec kServiceAccountFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageListField(2, "secrets", kObjectReference),
    MessageListField(3, "imagePullSecrets", kLocalObjectReference),
    BoolField(4, "automountServiceAccountToken", kKeep),
};
constexpr MessageSchema kServiceAccount{"ServiceAccount", kServiceAccountFields};

constexpr FieldSpec kEndpointAddressFields[] = {
    StringField(1, "ip", kKeep),
    StringField(3, "hostname"),
    StringField(4, "nodeName", kKeep),
    MessageField(2, "targetRef", kObjectReference),
};
constexpr MessageSchema kEndpointAddress{"EndpointAddress", kEndpointAddressFields};

constexpr FieldSpec kCoreEndpointPortFields[] = {
    StringField(1, "name"),
    Int32Field(2, "port", kKeep),
    StringField(3, "protocol"),
    StringField(4, "appProtocol", kKeep),
};
constexpr MessageSchema kCoreEndpointPort{"EndpointPort", kCoreEndpointPortFields};

constexpr FieldSpec kEndpointSubsetFields[] = {
    MessageListField(1, "addresses", kEndpointAddress),
    MessageListField(2, "notReadyAddresses", kEndpointAddress),
    MessageListField(3, "ports", kCoreEndpointPort),
};
constexpr MessageSchema kEndpointSubset{"EndpointSubset", kEndpointSubsetFields};

constexpr FieldSpec kEndpointsFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageListField(2, "subsets", kEndpointSubset),
};
constexpr MessageSchema kEndpoints{"Endpoints", kEndpointsFields};

constexpr FieldSpec kEventSourceFields[] = {
    StringField(1, "component"),
    StringField(2, "host"),
};
constexpr MessageSchema kEventSource{"EventSource", kEventSourceFields};

// metav1.MicroTime has metav1.Time's wire form; it decodes at seconds precision here.
constexpr FieldSpec kEventSeriesFields[] = {
    Int32Field(1, "count"),
    OtherField(2, "lastObservedTime", kTime),
};
constexpr MessageSchema kEventSeries{"EventSeries", kEventSeriesFields};

constexpr FieldSpec kEventFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "involvedObject", kObjectReference),
    StringField(3, "reason"),
    StringField(4, "message"),
    MessageField(5, "source", kEventSource),
    OtherField(6, "firstTimestamp", kTime),
    OtherField(7, "lastTimestamp", kTime),
    Int32Field(8, "count"),
    StringField(9, "type"),
    OtherField(10, "eventTime", kTime),
    MessageField(11, "series", kEventSeries),
    StringField(12, "action"),
    MessageField(13, "related", kObjectReference),
    StringField(14, "reportingComponent", kKeep),
    StringField(15, "reportingInstance", kKeep),
};
constexpr MessageSchema kEvent{"Event", kEventFields};

// ---- core/v1: nodes ----

constexpr FieldSpec kTaintFields[] = {
    StringField(1, "key", kKeep),
    StringField(2, "value"),
    StringField(3, "effect", kKeep),
    OtherField(4, "timeAdded", kTime),
};
constexpr MessageSchema kTaint{"Taint", kTaintFields};

constexpr FieldSpec kConfigMapNodeConfigSourceFields[] = {
    StringField(1, "namespace", kKeep),        StringField(2, "name", kKeep),
    StringField(3, "uid"),                     StringField(4, "resourceVersion"),
    StringField(5, "kubeletConfigKey", kKeep),
};
constexpr MessageSchema kConfigMapNodeConfigSource{"ConfigMapNodeConfigSource",
                                                   kConfigMapNodeConfigSourceFields};

constexpr FieldSpec kNodeConfigSourceFields[] = {
    MessageField(2, "configMap", kConfigMapNodeConfigSource),
};
constexpr MessageSchema kNodeConfigSource{"NodeConfigSource", kNodeConfigSourceFields};

constexpr FieldSpec kNodeSpecFields[] = {
    StringField(1, "podCIDR"),
    OtherField(7, "podCIDRs", kStringList),
    StringField(3, "providerID"),
    BoolField(4, "unschedulable"),
    MessageListField(5, "taints", kTaint),
    MessageField(6, "configSource", kNodeConfigSource),
    StringField(2, "externalID"),
};
constexpr MessageSchema kNodeSpec{"NodeSpec", kNodeSpecFields};

constexpr FieldSpec kNodeConditionFields[] = {
    StringField(1, "type", kKeep),
    StringField(2, "status", kKeep),
    OtherField(3, "lastHeartbeatTime", kTime),
    OtherField(4, "lastTransitionTime", kTime),
    StringField(5, "reason"),
    StringField(6, "message"),
};
constexpr MessageSchema kNodeCondition{"NodeCondition", kNodeConditionFields};

constexpr FieldSpec kNodeAddressFields[] = {
    StringField(1, "type", kKeep),
    StringField(2, "address", kKeep),
};
constexpr MessageSchema kNodeAddress{"NodeAddress", kNodeAddressFields};

constexpr FieldSpec kDaemonEndpointFields[] = {Int32Field(1, "Port", kKeep)};
constexpr MessageSchema kDaemonEndpoint{"DaemonEndpoint", kDaemonEndpointFields};

constexpr FieldSpec kNodeDaemonEndpointsFields[] = {
    MessageField(1, "kubeletEndpoint", kDaemonEndpoint),
};
constexpr MessageSchema kNodeDaemonEndpoints{"NodeDaemonEndpoints", kNodeDaemonEndpointsFields};

constexpr FieldSpec kNodeSystemInfoFields[] = {
    StringField(1, "machineID", kKeep),
    StringField(2, "systemUUID", kKeep),
    StringField(3, "bootID", kKeep),
    StringField(4, "kernelVersion", kKeep),
    StringField(5, "osImage", kKeep),
    StringField(6, "containerRuntimeVersion", kKeep),
    StringField(7, "kubeletVersion", kKeep),
    StringField(8, "kubeProxyVersion", kKeep),
    StringField(9, "operatingSystem", kKeep),
    StringField(10, "architecture", kKeep),
};
constexpr MessageSchema kNodeSystemInfo{"NodeSystemInfo", kNodeSystemInfoFields};

constexpr FieldSpec kContainerImageFields[] = {
    OtherField(1, "names", kStringList),
    Int64Field(2, "sizeBytes"),
};
constexpr MessageSchema kContainerImage{"ContainerImage", kContainerImageFields};

constexpr FieldSpec kAttachedVolumeFields[] = {
    StringField(1, "name", kKeep),
    StringField(2, "devicePath", kKeep),
};
constexpr MessageSchema kAttachedVolume{"AttachedVolume", kAttachedVolumeFields};

constexpr FieldSpec kNodeConfigStatusFields[] = {
    MessageField(1, "assigned", kNodeConfigSource),
    MessageField(2, "active", kNodeConfigSource),
    MessageField(3, "lastKnownGood", kNodeConfigSource),
    StringField(4, "error"),
};
constexpr MessageSchema kNodeConfigStatus{"NodeConfigStatus", kNodeConfigStatusFields};

constexpr FieldSpec kNodeRuntimeHandlerFeaturesFields[] = {
    BoolField(1, "recursiveReadOnlyMounts", kKeep),
    BoolField(2, "userNamespaces", kKeep),
};
constexpr MessageSchema kNodeRuntimeHandlerFeatures{"NodeRuntimeHandlerFeatures",
                                                    kNodeRuntimeHandlerFeaturesFields};

constexpr FieldSpec kNodeRuntimeHandlerFields[] = {
    StringField(1, "name", kKeep),
    MessageField(2, "features", kNodeRuntimeHandlerFeatures),
};
constexpr MessageSchema kNodeRuntimeHandler{"NodeRuntimeHandler", kNodeRuntimeHandlerFields};

constexpr FieldSpec kNodeFeaturesFields[] = {BoolField(1, "supplementalGroupsPolicy", kKeep)};
constexpr MessageSchema kNodeFeatures{"NodeFeatures", kNodeFeaturesFields};

constexpr FieldSpec kNodeStatusFields[] = {
    OtherField(1, "capacity", kQuantityMap),
    OtherField(2, "allocatable", kQuantityMap),
    StringField(3, "phase"),
    MessageListField(4, "conditions", kNodeCondition),
    MessageListField(5, "addresses", kNodeAddress),
    MessageField(6, "daemonEndpoints", kNodeDaemonEndpoints),
    MessageField(7, "nodeInfo", kNodeSystemInfo),
    MessageListField(8, "images", kContainerImage),
    OtherField(9, "volumesInUse", kStringList),
    MessageListField(10, "volumesAttached", kAttachedVolume),
    MessageField(11, "config", kNodeConfigStatus),
    MessageListField(12, "runtimeHandlers", kNodeRuntimeHandler),
    MessageField(13, "features", kNodeFeatures),
};
constexpr MessageSchema kNodeStatus{"NodeStatus", kNodeStatusFields};

constexpr FieldSpec kNodeFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kNodeSpec),
    MessageField(3, "status", kNodeStatus),
};
constexpr MessageSchema kNode{"Node", kNodeFields};

// ---- apps/v1: daemon sets ----

constexpr FieldSpec kRollingUpdateDaemonSetFields[] = {
    OtherField(1, "maxUnavailable", kIntOrString),
    OtherField(2, "maxSurge", kIntOrString),
};
constexpr MessageSchema kRollingUpdateDaemonSet{"RollingUpdateDaemonSet",
                                                kRollingUpdateDaemonSetFields};

constexpr FieldSpec kDaemonSetUpdateStrategyFields[] = {
    StringField(1, "type"),
    MessageField(2, "rollingUpdate", kRollingUpdateDaemonSet),
};
constexpr MessageSchema kDaemonSetUpdateStrategy{"DaemonSetUpdateStrategy",
                                                 kDaemonSetUpdateStrategyFields};

constexpr FieldSpec kDaemonSetSpecFields[] = {
    MessageField(1, "selector", kLabelSelector),
    MessageField(2, "template", kPodTemplateSpec),
    MessageField(3, "updateStrategy", kDaemonSetUpdateStrategy),
    Int32Field(4, "minReadySeconds"),
    Int32Field(6, "revisionHistoryLimit", kKeep),
};
constexpr MessageSchema kDaemonSetSpec{"DaemonSetSpec", kDaemonSetSpecFields};

constexpr FieldSpec kDaemonSetStatusFields[] = {
    Int32Field(1, "currentNumberScheduled", kKeep),
    Int32Field(2, "numberMisscheduled", kKeep),
    Int32Field(3, "desiredNumberScheduled", kKeep),
    Int32Field(4, "numberReady", kKeep),
    Int64Field(5, "observedGeneration"),
    Int32Field(6, "updatedNumberScheduled"),
    Int32Field(7, "numberAvailable"),
    Int32Field(8, "numberUnavailable"),
    Int32Field(9, "collisionCount", kKeep),
    MessageListField(10, "conditions", kTransitionCondition),
};
constexpr MessageSchema kDaemonSetStatus{"DaemonSetStatus", kDaemonSetStatusFields};

constexpr FieldSpec kDaemonSetFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kDaemonSetSpec),
    MessageField(3, "status", kDaemonSetStatus),
};
constexpr MessageSchema kDaemonSet{"DaemonSet", kDaemonSetFields};

// ---- coordination.k8s.io/v1 ----

constexpr FieldSpec kLeaseSpecFields[] = {
    StringField(1, "holderIdentity", kKeep),
    Int32Field(2, "leaseDurationSeconds", kKeep),
    OtherField(3, "acquireTime", kTime),
    OtherField(4, "renewTime", kTime),
    Int32Field(5, "leaseTransitions", kKeep),
    StringField(6, "strategy", kKeep),
    StringField(7, "preferredHolder", kKeep),
};
constexpr MessageSchema kLeaseSpec{"LeaseSpec", kLeaseSpecFields};

constexpr FieldSpec kLeaseFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    MessageField(2, "spec", kLeaseSpec),
};
constexpr MessageSchema kLease{"Lease", kLeaseFields};

// ---- discovery.k8s.io/v1 ----

constexpr FieldSpec kEndpointConditionsFields[] = {
    BoolField(1, "ready", kKeep),
    BoolField(2, "serving", kKeep),
    BoolField(3, "terminating", kKeep),
};
constexpr MessageSchema kEndpointConditions{"EndpointConditions", kEndpointConditionsFields};

// ForZone and ForNode share this layout.
constexpr FieldSpec kNamedHintFields[] = {StringField(1, "name", kKeep)};
constexpr MessageSchema kNamedHint{"ForZone", kNamedHintFields};

constexpr FieldSpec kEndpointHintsFields[] = {
    MessageListField(1, "forZones", kNamedHint),
    MessageListField(2, "forNodes", kNamedHint),
};
constexpr MessageSchema kEndpointHints{"EndpointHints", kEndpointHintsFields};

constexpr FieldSpec kEndpointFields[] = {
    OtherField(1, "addresses", kStringList),
    MessageField(2, "conditions", kEndpointConditions),
    StringField(3, "hostname", kKeep),
    MessageField(4, "targetRef", kObjectReference),
    OtherField(5, "deprecatedTopology", kStringMap),
    StringField(6, "nodeName", kKeep),
    StringField(7, "zone", kKeep),
    MessageField(8, "hints", kEndpointHints),
};
constexpr MessageSchema kEndpoint{"Endpoint", kEndpointFields};

constexpr FieldSpec kDiscoveryEndpointPortFields[] = {
    StringField(1, "name", kKeep),
    StringField(2, "protocol", kKeep),
    Int32Field(3, "port", kKeep),
    StringField(4, "appProtocol", kKeep),
};
constexpr MessageSchema kDiscoveryEndpointPort{"EndpointPort", kDiscoveryEndpointPortFields};

constexpr FieldSpec kEndpointSliceFields[] = {
    MessageField(1, "metadata", kObjectMeta),
    StringField(4, "addressType", kKeep),
    MessageListField(2, "endpoints", kEndpoint),
    MessageListField(3, "ports", kDiscoveryEndpointPort),
};
constexpr MessageSchema kEndpointSlice{"EndpointSlice", kEndpointSliceFields};

constexpr ObjectSchema kObjectSchemas[] = {
    {"v1", "Namespace", &kNamespace},
    {"v1", "Pod", &kPod},
    {"v1", "Service", &kService},
    {"v1", "ConfigMap", &kConfigMap},
    {"v1", "Secret", &kSecret},
    {"apps/v1", "Deployment", &kDeployment},
    {"apps/v1", "ReplicaSet", &kReplicaSet},
    {"autoscaling/v1", "HorizontalPodAutoscaler", &kHpaV1},
    {"autoscaling/v2", "HorizontalPodAutoscaler", &kHpaV2},
    {"v1", "Node", &kNode},
    {"v1", "Event", &kEvent},
    {"v1", "Endpoints", &kEndpoints},
    {"v1", "ServiceAccount", &kServiceAccount},
    {"apps/v1", "DaemonSet", &kDaemonSet},
    {"coordination.k8s.io/v1", "Lease", &kLease},
    {"discovery.k8s.io/v1", "EndpointSlice", &kEndpointSlice},
};

}  // namespace

std::span<const ObjectSchema> KnownObjectSchemas() { return kObjectSchemas; }

const MessageSchema* FindObjectSchema(std::string_view api_version, std::string_view kind) {
  for (const ObjectSchema& object : kObjectSchemas) {
    if (object.api_version == api_version && object.kind == kind) return object.schema;
  }
  return nullptr;
}

}  // namespace kelp::api
