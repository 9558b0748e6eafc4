// Which Services l2lb handles: one rule for both programs (the controller allocates for exactly these, the
// speaker announces exactly these).
import type { ServiceView } from './views.js'

/**
 * Whether l2lb handles the Service (controller and speaker alike): type LoadBalancer, and its class is exactly
 * the one l2lb serves — no class when l2lb was started without one, that class when it was started with one.
 * MetalLB's rule (internal/k8s/controllers/service_controller.go, filterByLoadBalancerClass): a Service without
 * a class belongs to the installation without a class, so l2lb started with a class can run beside MetalLB
 * without both announcing one Service (README, "Migrate from MetalLB").
 */
export function isOurs(svc: ServiceView, loadBalancerClass: string | null): boolean {
  return svc.isLoadBalancer && svc.loadBalancerClass === loadBalancerClass
}
